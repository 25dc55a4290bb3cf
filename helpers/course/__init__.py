"""Course machinery: ``python -m helpers.course --help`` lists the commands."""
