"""The dashboard behind a load balancer: two real nodes on one PostgreSQL database and Redis.

A one-time link handed out through node A signs in on node B, and then on neither node again;
a session opened on one node is good on the other, and signing out on one ends it on both.
"""

from __future__ import annotations

import concurrent.futures
import re
import time

import httpx
from cluster_support import Cluster, MakeCluster

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
DEADLINE_S = 15.0


def _link(cluster: Cluster, node: int) -> str:
    with cluster.client(node) as client:
        answer = client.post("/v1/dashboard/links", json={"ttl_s": 1800})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["path"]).split("#link=")[1]


def _browser(cluster: Cluster, node: int) -> httpx.Client:
    """A client with a cookie jar of its own, as a browser reaching ``node``."""
    return httpx.Client(base_url=cluster.nodes[node].url, timeout=10.0)


def _redeem(browser: httpx.Client, code: str) -> httpx.Response:
    page = browser.get("/dashboard/sign-in")
    found = CSRF.search(page.text)
    assert page.status_code == 200 and found, page.text
    return browser.post("/dashboard/sign-in/link", data={"csrf": found.group(1), "code": code})


def _move(browser: httpx.Client, cluster: Cluster, node: int) -> httpx.Client:
    """The same browser (its cookies) now sent to ``node`` by the balancer."""
    moved = _browser(cluster, node)
    for cookie in browser.cookies.jar:
        moved.cookies.set(cookie.name, cookie.value or "")
    return moved


def test_a_link_from_one_node_signs_in_on_another_exactly_once(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(2)
    code = _link(cluster, 0)
    with _browser(cluster, 1) as on_b:
        first = _redeem(on_b, code)
        assert first.status_code == 303, first.text
        assert on_b.get("/dashboard/keys").status_code == 200
    for node in (0, 1):
        with _browser(cluster, node) as again:
            refused = _redeem(again, code)
            assert refused.status_code == 401, (node, refused.text)
            assert "used already" in refused.text


def test_two_nodes_racing_for_one_link_open_one_session(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(2)
    code = _link(cluster, 1)
    browsers = [_browser(cluster, 0), _browser(cluster, 1)]
    pages = [b.get("/dashboard/sign-in") for b in browsers]
    forms = [{"csrf": CSRF.findall(p.text)[0], "code": code} for p in pages]
    # both posts are in flight together (httpx's sync clients: one thread each)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda i: browsers[i].post("/dashboard/sign-in/link", data=forms[i]), (0, 1))
        )
    assert sorted(a.status_code for a in answers) == [303, 401], [a.text for a in answers]
    for b in browsers:
        b.close()


def test_a_session_works_on_every_node_and_signing_out_ends_it_everywhere(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(2)
    with _browser(cluster, 0) as on_a:
        assert _redeem(on_a, _link(cluster, 0)).status_code == 303
        with _move(on_a, cluster, 1) as on_b:
            page = on_b.get("/dashboard/keys")
            assert page.status_code == 200, page.text
            csrf = CSRF.findall(page.text)[0]
            out = on_a.post("/dashboard/sign-out", data={"csrf": csrf})
            assert out.status_code == 303, out.text
            # node B learns of the revocation at its next refresh of the shared state
            deadline = time.monotonic() + DEADLINE_S
            while (answer := on_b.get("/dashboard/keys")).status_code == 200:
                assert time.monotonic() < deadline, "node B still serves a signed-out session"
                time.sleep(0.1)
            assert answer.status_code == 303
            assert answer.headers["location"] == "/dashboard/sign-in?reason=revoked"
