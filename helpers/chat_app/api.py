"""The HTTP routes: accounts, tickets, rooms, membership, history and presence, all JSON.

Every route but register and login needs ``Authorization: Bearer <token>`` (401
otherwise). Services that block (SQL, argon2) run in a thread via ``asyncio.to_thread``,
so the event loop keeps serving the WebSockets meanwhile (step 09's trap).
"""

import asyncio
import json

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .auth import MAX_PASSWORD, bearer_hash
from .errors import Forbidden, NotFound

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),  # JSON is never sniffed into HTML
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),  # history and tokens stay out of shared caches
]


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response, errors included."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


async def json_body(request):
    """The request's JSON object; 400 if it is not one."""
    try:
        data = json.loads(await request.body())
    except ValueError:
        raise HTTPException(400, "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return data


async def authenticated(request):
    """``(chat, user, session hash)`` for the request's bearer token; 401 without a live one."""
    chat = request.app.state.chat
    await chat.start()
    session_hash = bearer_hash(request.headers)
    user = None if session_hash is None else await asyncio.to_thread(chat.accounts.user_for, session_hash)
    if user is None:
        raise HTTPException(401, "log in first", headers={"WWW-Authenticate": "Bearer"})
    return chat, user, session_hash


def room_id_of(request):
    return request.path_params["room_id"]


async def register(request):
    chat, data = request.app.state.chat, await json_body(request)
    try:
        user_id = await asyncio.to_thread(chat.accounts.register, data.get("username"), data.get("password"))
    except ValueError as invalid:
        raise HTTPException(409 if str(invalid) == "username taken" else 400, str(invalid)) from None
    return JSONResponse({"id": user_id, "username": data["username"]}, status_code=201)


async def login(request):
    chat, data = request.app.state.chat, await json_body(request)
    await chat.start()
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or len(username) > 30 \
            or len(password) > MAX_PASSWORD:
        raise HTTPException(400, "username and password required")
    wait = await chat.login_limiter.hit(username.lower())
    if wait:
        raise HTTPException(429, "too many login attempts", headers={"Retry-After": str(wait)})
    token = await asyncio.to_thread(chat.accounts.login, username, password)
    if token is None:
        raise HTTPException(401, "invalid username or password")
    return JSONResponse({"token": token, "expires_in": chat.config["SESSION_SECONDS"]})


async def logout(request):
    chat, _, session_hash = await authenticated(request)
    await asyncio.to_thread(chat.accounts.logout, session_hash)
    return Response(status_code=204)


async def me(request):
    _, user, _ = await authenticated(request)
    return JSONResponse(user)


async def ticket(request):
    """A one-time ticket for ``/ws?ticket=`` (for browsers, which cannot set headers there)."""
    chat, _, session_hash = await authenticated(request)
    return JSONResponse({"ticket": await chat.tickets.issue(session_hash),
                         "expires_in": chat.config["TICKET_SECONDS"]}, status_code=201)


async def rooms(request):
    chat, user, _ = await authenticated(request)
    if request.method == "GET":
        return JSONResponse({"rooms": await asyncio.to_thread(chat.rooms.visible, user["id"])})
    data = await json_body(request)
    try:
        room = await asyncio.to_thread(chat.rooms.create, user["id"], data.get("name"),
                                       data.get("private", False))
    except ValueError as invalid:
        raise HTTPException(409 if str(invalid) == "name taken" else 400, str(invalid)) from None
    return JSONResponse(room, status_code=201)


async def room(request):
    chat, user, _ = await authenticated(request)
    return JSONResponse(await asyncio.to_thread(chat.rooms.get, user["id"], room_id_of(request)))


async def members(request):
    """Join a public room (no body, or your own username); the owner adds to a private one."""
    chat, user, _ = await authenticated(request)
    data = await json_body(request) if await request.body() else {}
    try:
        username = await asyncio.to_thread(chat.rooms.add_member, user["id"], room_id_of(request),
                                           data.get("username"))
    except ValueError as invalid:
        raise HTTPException(404 if str(invalid) == "no such user" else 400, str(invalid)) from None
    return JSONResponse({"room": room_id_of(request), "username": username}, status_code=201)


def int_param(request, name, default, low, high):
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise HTTPException(400, f"{name}: a whole number from {low} to {high}")
    return int(raw)


async def messages(request):
    chat, user, _ = await authenticated(request)
    room_id = room_id_of(request)
    if request.method == "POST":
        data = await json_body(request)
        result = await chat.send(user, room_id, data.get("body"), data.get("nonce"))
        status = {"not_found": 404, "forbidden": 403, "rate_limited": 429, "invalid": 400}
        if result["type"] == "ack":
            return JSONResponse(result, status_code=201)
        body = {"error": result["detail"], "code": result["code"]}
        headers = {"Retry-After": str(result["retry_after"])} if "retry_after" in result else None
        return JSONResponse(body, status_code=status[result["code"]], headers=headers)
    after = int_param(request, "after", 0, 0, 2**31 - 1)
    limit = int_param(request, "limit", 50, 1, 200)
    await asyncio.to_thread(chat.rooms.require_member, user["id"], room_id)
    found = await asyncio.to_thread(chat.messages.read, room_id, after, limit)
    return JSONResponse({"messages": found, "last_seq": found[-1]["seq"] if found else after})


async def presence(request):
    chat, user, _ = await authenticated(request)
    await asyncio.to_thread(chat.rooms.require_member, user["id"], room_id_of(request))
    return JSONResponse({"room": room_id_of(request), "online": await chat.hub.online(room_id_of(request))})


routes = [
    Route("/api/register", register, methods=["POST"]),
    Route("/api/login", login, methods=["POST"]),
    Route("/api/logout", logout, methods=["POST"]),
    Route("/api/me", me),
    Route("/api/tickets", ticket, methods=["POST"]),
    Route("/api/rooms", rooms, methods=["GET", "POST"]),
    Route("/api/rooms/{room_id:int}", room),
    Route("/api/rooms/{room_id:int}/members", members, methods=["POST"]),
    Route("/api/rooms/{room_id:int}/messages", messages, methods=["GET", "POST"]),
    Route("/api/rooms/{room_id:int}/presence", presence),
]


async def _http_error(request, error):
    return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)


async def _not_found(request, error):
    return JSONResponse({"error": "no such room"}, status_code=404)


async def _forbidden(request, error):
    return JSONResponse({"error": str(error)}, status_code=403)


exception_handlers = {HTTPException: _http_error, NotFound: _not_found, Forbidden: _forbidden}
middleware = [Middleware(SecurityHeaders), Middleware(RequestBodyLimitMiddleware, max_body_size=16 * 1024)]
