"""helpers.rest_demo: the notes API's status codes, pagination and idempotency keys."""

from __future__ import annotations

import requests

from helpers.rest_demo import OPENAPI, create_app
from helpers.servers import serve


def test_crud_status_codes():
    api = serve(create_app(), name="notes-api")
    url = api.url + "/v1/notes"
    created = requests.post(url, json={"title": "hello", "tag": "home"}, timeout=5)
    assert created.status_code == 201 and created.headers["Location"].endswith("/v1/notes/1")
    assert requests.get(url + "/1", timeout=5).json() == {
        "id": 1, "title": "hello", "tag": "home",
        "_links": {"self": {"href": "/v1/notes/1"}, "collection": {"href": "/v1/notes"}}}
    assert requests.put(url + "/1", json={"title": "bye"}, timeout=5).status_code == 200
    assert requests.post(url, json={"title": ""}, timeout=5).status_code == 422
    assert requests.delete(url + "/1", timeout=5).status_code == 204
    missing = requests.get(url + "/1", timeout=5)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"


def test_offset_and_cursor_pagination_and_filter():
    api = serve(create_app(seed=7), name="notes-api")
    url = api.url + "/v1/notes"
    page = requests.get(url, params={"offset": 5, "limit": 5}, timeout=5).json()
    assert [n["id"] for n in page["items"]] == [6, 7] and page["total"] == 7
    first = requests.get(url, params={"cursor": "", "limit": 4}, timeout=5).json()
    assert [n["id"] for n in first["items"]] == [1, 2, 3, 4] and first["next_cursor"] == 4
    last = requests.get(url, params={"cursor": 4, "limit": 4}, timeout=5).json()
    assert [n["id"] for n in last["items"]] == [5, 6, 7] and last["next_cursor"] is None
    work = requests.get(url, params={"tag": "work"}, timeout=5).json()
    assert [n["id"] for n in work["items"]] == [1, 4, 7]


def test_idempotency_key_replays_the_first_answer():
    api = serve(create_app(), name="notes-api")
    url = api.url + "/v1/notes"
    key = {"Idempotency-Key": "k-1"}
    one = requests.post(url, json={"title": "pay"}, headers=key, timeout=5)
    two = requests.post(url, json={"title": "pay"}, headers=key, timeout=5)
    assert one.status_code == two.status_code == 201 and one.json() == two.json()
    assert requests.get(url, timeout=5).json()["total"] == 1
    other = requests.post(url, json={"title": "different"}, headers=key, timeout=5)
    assert other.status_code == 422


def test_openapi_names_every_route():
    assert OPENAPI["openapi"].startswith("3.1")
    assert set(OPENAPI["paths"]) == {"/notes", "/notes/{id}"}


def test_bad_bodies_and_queries_get_the_right_problem():
    """Malformed JSON 400, not JSON 415, wrong fields 422; ?limit=abc is a 400, never a silent 10."""
    client = create_app(seed=3).test_client()
    cases = [({"data": "{oops", "content_type": "application/json"}, 400),
             ({"data": "[" * 20_000 + "]" * 20_000, "content_type": "application/json"}, 400),  # too deep
             ({"data": {"title": "form"}}, 415), ({"json": ["a list"]}, 400), ({"json": {"title": " "}}, 422)]
    for kwargs, status in cases:
        for method in ("post", "put"):
            url = "/v1/notes" if method == "post" else "/v1/notes/1"
            response = getattr(client, method)(url, **kwargs)
            assert response.status_code == status, (method, kwargs, response.json)
            assert response.mimetype == "application/problem+json"
    bad = ["limit=abc", "limit=0", "limit=101", "offset=-1", "cursor=x", "limit=\u00b2", "offset=", "limit="]
    for query in bad:
        response = client.get(f"/v1/notes?{query}")
        assert response.status_code == 400, (query, response.json)


def test_problem_titles_are_standard_with_about_blank():
    """RFC 9457: with type about:blank the title is the status phrase; our own problem has its own type."""
    client = create_app().test_client()
    body = client.get("/v1/notes/9").json
    assert (body["type"], body["title"]) == ("about:blank", "Not Found")
    key = {"Idempotency-Key": "k"}
    client.post("/v1/notes", json={"title": "a"}, headers=key)
    reused = client.post("/v1/notes", json={"title": "b"}, headers=key).json
    assert reused["type"] != "about:blank" and reused["title"] == "Idempotency-Key reused"


def test_openapi_input_has_no_id_and_offset_is_documented():
    note_input = OPENAPI["components"]["schemas"]["NoteInput"]
    assert "id" not in note_input.get("required", []) and "id" not in note_input["properties"]
    params = {p["name"] for p in OPENAPI["paths"]["/notes"]["get"]["parameters"]}
    assert {"offset", "limit", "cursor", "tag"} <= params


def test_each_contract_break_changes_only_what_it_names():
    from helpers.rest_demo import CONTRACT_BREAKS, create_broken_app

    def flow(app):
        """(create status, Location?, created keys, invalid status+type, delete status, gone status)."""
        api = serve(app, name="notes-broken")
        url = api.url + "/v1/notes"
        created = requests.post(url, json={"title": "t", "tag": "home"}, timeout=5)
        invalid = requests.post(url, json={"title": ""}, timeout=5)
        deleted = requests.delete(f"{url}/{created.json()['id']}", timeout=5)
        gone = requests.get(f"{url}/{created.json()['id']}", timeout=5)
        api.stop()
        return (created.status_code, "Location" in created.headers, sorted(created.json()),
                invalid.status_code, invalid.headers["Content-Type"], deleted.status_code,
                deleted.content, gone.status_code, gone.headers["Content-Type"])

    good = flow(create_app(seed=2))
    assert good == (201, True, ["_links", "id", "tag", "title"], 422, "application/problem+json", 204, b"",
                    404, "application/problem+json")
    changed = {}
    for defect in CONTRACT_BREAKS:
        broken = flow(create_broken_app(defect, seed=2))
        changed[defect] = {i for i, (a, b) in enumerate(zip(good, broken, strict=True)) if a != b}
    assert changed == {"create-200": {0}, "no-location": {1}, "title-renamed": {2}, "validation-400": {3},
                       "errors-as-html": {4, 8}, "delete-200": {5, 6}, "delete-keeps": {7, 8}}


def follow(client, href, rel="next"):
    """Every page from href on, by following the `rel` link until there is none."""
    pages = []
    while href is not None:
        page = client.get(href).json
        pages.append(page)
        href = page["_links"].get(rel, {}).get("href")
    return pages


def test_links_walk_offset_pages_both_ways_and_keep_the_filter():
    """HATEOAS: next/prev links reach every page exactly once, with the same tag and limit."""
    client = create_app(seed=11).test_client()
    pages = follow(client, "/v1/notes?tag=work&limit=2")
    assert [[n["id"] for n in p["items"]] for p in pages] == [[1, 4], [7, 10]]
    assert "prev" not in pages[0]["_links"] and "next" not in pages[-1]["_links"]
    back = follow(client, pages[-1]["_links"]["self"]["href"], rel="prev")
    assert [[n["id"] for n in p["items"]] for p in back] == [[7, 10], [1, 4]]
    assert pages[1]["_links"]["self"] == {"href": "/v1/notes?tag=work&offset=2&limit=2"}
    assert all(n["_links"]["self"]["href"] == f"/v1/notes/{n['id']}" for p in pages for n in p["items"])


def test_links_walk_cursor_pages_forward_only():
    client = create_app(seed=7).test_client()
    pages = follow(client, "/v1/notes?cursor=&limit=3")
    assert [[n["id"] for n in p["items"]] for p in pages] == [[1, 2, 3], [4, 5, 6], [7]]
    assert all("prev" not in p["_links"] for p in pages)
    assert pages[1]["_links"]["self"] == {"href": "/v1/notes?cursor=3&limit=3"}


def test_prev_from_past_the_end_lands_on_the_last_page():
    client = create_app(seed=7).test_client()
    page = client.get("/v1/notes?offset=50&limit=3").json
    assert page["items"] == [] and "next" not in page["_links"]
    last = client.get(page["_links"]["prev"]["href"]).json
    assert [n["id"] for n in last["items"]] == [5, 6, 7]


def test_each_note_links_to_itself_and_its_collection():
    client = create_app(seed=1).test_client()
    created = client.post("/v1/notes", json={"title": "linked"})
    links = created.json["_links"]
    assert links["self"]["href"] == created.headers["Location"] == "/v1/notes/2"
    assert client.get(links["self"]["href"]).json == created.json
    collection = client.get(links["collection"]["href"]).json
    assert [n["id"] for n in collection["items"]] == [1, 2]
    replaced = client.put(links["self"]["href"], json={"title": "renamed"}).json
    assert replaced["_links"] == links


def test_openapi_documents_the_links():
    schemas = OPENAPI["components"]["schemas"]
    assert "_links" in schemas["Note"]["required"] and "_links" in schemas["NotePage"]["required"]
    assert set(schemas["NotePage"]["properties"]["_links"]["properties"]) == {"self", "next", "prev"}
