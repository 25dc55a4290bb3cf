"""Money as integer cents: exact sums, no float anywhere; Decimal only to show an amount."""

from decimal import Decimal

MAX_CENTS = 99_999_999  # 999,999.99: more than any basket here, far from integer overflow


def is_cents(value):
    """True for a whole number of cents in range. ``True`` and ``12.5`` are not cents."""
    return type(value) is int and 0 <= value <= MAX_CENTS


def display(cents, currency):
    """``1250, "eur"`` -> ``"12.50 EUR"`` (Decimal shifts the point; no binary fraction)."""
    return f"{Decimal(cents).scaleb(-2):.2f} {currency.upper()}"
