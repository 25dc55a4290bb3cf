"""Milestone 2: rooms and who belongs to them (blocking calls: run them in a thread).

A public room: anyone may join it and see that it exists. A private room: only its
owner adds members, and to everyone else it does not exist (404, never 403, so its
name and id cannot be probed).
"""

import re

import sqlalchemy as sa

from .db import memberships, rooms, users
from .errors import MAX_ID, Forbidden, NotFound

ROOM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ -]{0,39}")


class Rooms:
    def __init__(self, engine):
        self.engine = engine

    def create(self, owner_id, name, private=False):
        """A new room with its owner as first member; ValueError if the name is bad or taken."""
        if not isinstance(name, str) or not ROOM_NAME.fullmatch(name) or name != name.strip():
            raise ValueError("name: 1 to 40 letters, digits, spaces, _ or -")
        if not isinstance(private, bool):
            raise ValueError("private: true or false")
        try:
            with self.engine.begin() as conn:
                room_id = conn.execute(sa.insert(rooms).values(
                    name=name, owner_id=owner_id, private=private, last_seq=0)).inserted_primary_key[0]
                conn.execute(sa.insert(memberships).values(room_id=room_id, user_id=owner_id))
        except sa.exc.IntegrityError as error:
            raise ValueError("name taken") from error
        return self.get(owner_id, room_id)

    def get(self, user_id, room_id):
        """The room as the user sees it; NotFound if it is private and they are not a member."""
        if not isinstance(room_id, int) or not 0 < room_id <= MAX_ID:
            raise NotFound()
        member = sa.exists().where(memberships.c.room_id == rooms.c.id, memberships.c.user_id == user_id)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(rooms.c.id, rooms.c.name, rooms.c.private, rooms.c.last_seq,
                                         users.c.username.label("owner"), member.label("member"))
                               .join(users, users.c.id == rooms.c.owner_id)
                               .where(rooms.c.id == room_id)).first()
        if row is None or (row.private and not row.member):
            raise NotFound()
        return {"id": row.id, "name": row.name, "private": row.private, "owner": row.owner,
                "member": bool(row.member), "last_seq": row.last_seq}

    def visible(self, user_id):
        """Public rooms and the private rooms the user belongs to, by name."""
        member = sa.exists().where(memberships.c.room_id == rooms.c.id, memberships.c.user_id == user_id)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(rooms.c.id, rooms.c.name, rooms.c.private, member.label("member"))
                                .where(sa.or_(rooms.c.private.is_(False), member))
                                .order_by(rooms.c.name)).all()
        return [{"id": r.id, "name": r.name, "private": r.private, "member": bool(r.member)} for r in rows]

    def require_member(self, user_id, room_id):
        """NotFound or Forbidden unless the user belongs to the room."""
        if not self.get(user_id, room_id)["member"]:
            raise Forbidden("join the room first")

    def add_member(self, user_id, room_id, username=None):
        """Join a public room yourself (``username`` None or your own), or, as the owner
        of a private room, add someone. Returns the member's username."""
        room = self.get(user_id, room_id)
        with self.engine.begin() as conn:
            owner_id = conn.execute(sa.select(rooms.c.owner_id).where(rooms.c.id == room_id)).scalar_one()
            me = conn.execute(sa.select(users.c.username).where(users.c.id == user_id)).scalar_one()
            username = me if username is None else username
            if not isinstance(username, str):
                raise ValueError("username: a string")
            if room["private"] and user_id != owner_id:
                raise Forbidden("only the owner adds members to a private room")
            if not room["private"] and username != me and user_id != owner_id:
                raise Forbidden("join a public room yourself")
            new_id = conn.execute(sa.select(users.c.id).where(users.c.username == username)).scalar()
            if new_id is None:
                raise ValueError("no such user")
            exists = conn.execute(sa.select(memberships.c.user_id).where(
                memberships.c.room_id == room_id, memberships.c.user_id == new_id)).first()
            if exists is None:
                try:
                    with conn.begin_nested():  # a savepoint: a concurrent join of the same user is fine
                        conn.execute(sa.insert(memberships).values(room_id=room_id, user_id=new_id))
                except sa.exc.IntegrityError:
                    pass
        return username
