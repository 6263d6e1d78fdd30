"""Mint and verify throughput: roomkey against PyJWT and livekit-api, one core, same run.

    .venv/bin/python bench/tokens.py            # 7 repeats of ~1 s per case, medians
    .venv/bin/python bench/tokens.py --quick    # smoke run (a few seconds)
    .venv/bin/python bench/tokens.py --json     # one machine-readable line at the end

Every case signs HS256 with the same 40-byte secret and carries the same claims (iss, sub, iat,
nbf, exp, jti and the grant: roomkey's native ``grant`` object, or LiveKit's ``video`` grant).
Verify cases read a pre-minted pool of distinct tokens, cycled, so no per-token cache can help
(roomkey's header cache, keyed by the header bytes every token shares, is legitimate). The
garbage collector is paused inside timed batches, as ``timeit`` does. A benchmark, never a test:
it prints whether the performance targets of docs/architecture.md are met and exits 0 either way.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
import livekit.api as lk

import roomkey
from roomkey.grants import Scope
from roomkey.keys import HmacKey, KeyRing
from roomkey.minting import AccessToken, TokenMinter
from roomkey.revocation import InMemoryRevocations
from roomkey.roles import PRESETS, Role
from roomkey.verifying import TokenVerifier

API_KEY = "APIbench1"
SECRET = "bench-secret-that-is-at-least-32-bytes!!"
IDENTITY = "alice"
ROOM = "standup"
ROLE = Role.SPEAKER
TTL_S = 900
MINT_TARGET = 150_000  # docs/architecture.md, tokens/s on one core
VERIFY_TARGET = 100_000
POOL = 50_000  # distinct tokens per verify case (cycled)
# The speaker preset as each format writes it, for the PyJWT and livekit-api cases.
NATIVE_GRANT = PRESETS[ROLE].to_dict()
LIVEKIT_VIDEO = {
    "roomJoin": True,
    "room": ROOM,
    "canPublish": True,
    "canSubscribe": True,
    "canPublishData": True,
    "canPublishSources": ["microphone"],
    "canUpdateOwnMetadata": True,
}

Op = Callable[[], object]
ItemOp = Callable[[Any], object]


@dataclass
class Settings:
    """How long and how often each case runs."""

    repeats: int
    batch_s: float
    pool: int
    revoked: int


@dataclass
class Case:
    """One thing to time: ``op`` called over ``items`` (cycled)."""

    name: str
    group: str  # "mint" or "verify"
    library: str  # "roomkey" (reused minter / loaded verifier), "roomkey-builder", ...
    shape: str  # "native" or "livekit"
    op: ItemOp
    items: Sequence[Any] = (None,)
    runs: list[float] = field(default_factory=list)
    # ops per second of this thread's CPU time: less skewed when the machine is busy
    cpu_runs: list[float] = field(default_factory=list)

    @property
    def ops_per_s(self) -> float:
        """The median of the repeats."""
        return statistics.median(self.runs)

    @property
    def cpu_ops_per_s(self) -> float:
        """The median of the repeats, by CPU time."""
        return statistics.median(self.cpu_runs)


# ---- timing --------------------------------------------------------------------------------


def run_batch(op: ItemOp, items: Sequence[Any], n: int) -> tuple[int, int]:
    """Wall and CPU nanoseconds for ``n`` calls of ``op`` over ``items`` (cycled), GC paused."""
    feed = itertools.islice(itertools.cycle(items), n)
    gc.collect()
    gc.disable()
    try:
        start, cpu = time.perf_counter_ns(), time.thread_time_ns()
        for item in feed:
            op(item)
        return time.perf_counter_ns() - start, time.thread_time_ns() - cpu
    finally:
        gc.enable()


def calibrate(case: Case, batch_s: float) -> int:
    """Calls per batch so that one batch takes about ``batch_s``."""
    n = 100
    while True:
        took = run_batch(case.op, case.items, n)[0]
        if took >= 50_000_000 or n >= 10_000_000:  # 50 ms: enough to extrapolate
            return max(100, int(n * batch_s * 1e9 / took))
        n *= 4


def measure(cases: list[Case], cfg: Settings, log: Callable[[str], None]) -> None:
    """Time every case ``cfg.repeats`` times, round-robin, so drift hits every case alike."""
    sizes = [calibrate(case, cfg.batch_s) for case in cases]
    for round_no in range(1, cfg.repeats + 1):
        for case, n in zip(cases, sizes, strict=True):
            wall, cpu = run_batch(case.op, case.items, n)
            case.runs.append(n * 1e9 / wall)
            case.cpu_runs.append(n * 1e9 / max(cpu, 1))
        log(f"  round {round_no}/{cfg.repeats} done")


def no_input(fn: Op) -> ItemOp:
    """Adapt an argument-less op to :func:`run_batch`."""
    return lambda _: fn()


# ---- the cases: minting --------------------------------------------------------------------


def native_payload() -> dict[str, Any]:
    """What roomkey's native minter writes for the speaker, built per token (times, jti)."""
    now = int(time.time())
    return {
        "rk": 1,
        "iss": API_KEY,
        "sub": IDENTITY,
        "iat": now,
        "nbf": now,
        "exp": now + TTL_S,
        "jti": secrets.token_urlsafe(16),
        "room": ROOM,
        "role": ROLE.value,
        "grant": NATIVE_GRANT,
    }


def livekit_payload() -> dict[str, Any]:
    """What roomkey's livekit minter writes for the speaker, built per token."""
    now = int(time.time())
    return {
        "iss": API_KEY,
        "sub": IDENTITY,
        "iat": now,
        "nbf": now,
        "exp": now + TTL_S,
        "jti": secrets.token_urlsafe(16),
        "video": LIVEKIT_VIDEO,
    }


def pyjwt_mint(shape: str) -> Op:
    payload = native_payload if shape == "native" else livekit_payload
    headers = {"kid": API_KEY} if shape == "native" else None
    return lambda: jwt.encode(payload(), SECRET, algorithm="HS256", headers=headers)


def livekit_api_mint() -> str:
    grants = lk.VideoGrants(
        room_join=True,
        room=ROOM,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_publish_sources=["microphone"],
        can_update_own_metadata=True,
    )
    token = lk.AccessToken(API_KEY, SECRET).with_identity(IDENTITY).with_grants(grants)
    return token.to_jwt()


def roomkey_builder_mint(shape: str) -> Op:
    def op() -> str:
        token = AccessToken(API_KEY, SECRET, dialect=shape)
        return token.with_identity(IDENTITY).with_room(ROOM).with_role(ROLE).to_jwt()

    return op


def roomkey_minter(shape: str) -> TokenMinter:
    return TokenMinter(HmacKey(API_KEY, SECRET), shape, default_ttl_s=TTL_S)


def roomkey_minter_mint(shape: str) -> Op:
    minter = roomkey_minter(shape)
    return lambda: minter.mint(identity=IDENTITY, room=ROOM, role=ROLE)


def mint_cases() -> list[Case]:
    """Every mint case, both shapes."""
    cases: list[Case] = []
    for shape in ("native", "livekit"):
        cases += [
            Case(
                f"pyjwt jwt.encode [{shape}]", "mint", "pyjwt", shape, no_input(pyjwt_mint(shape))
            ),
            Case(
                f"roomkey AccessToken builder [{shape}]",
                "mint",
                "roomkey-builder",
                shape,
                no_input(roomkey_builder_mint(shape)),
            ),
            Case(
                f"roomkey TokenMinter.mint [{shape}]",
                "mint",
                "roomkey",
                shape,
                no_input(roomkey_minter_mint(shape)),
            ),
        ]
    name = "livekit-api AccessToken [livekit]"
    return [*cases, Case(name, "mint", "livekit-api", "livekit", no_input(livekit_api_mint))]


# ---- the cases: verifying ------------------------------------------------------------------


def pyjwt_decode(token: str) -> dict[str, Any]:
    """PyJWT's decode with the algorithm, issuer and exp pinned (no room/identity binding)."""
    return jwt.decode(
        token, SECRET, algorithms=["HS256"], issuer=API_KEY, options={"require": ["exp"]}
    )


def roomkey_verify(revoked: int) -> Callable[[str], object]:
    """Every pipeline check, with ``revoked`` other jtis in an in-memory revocation list."""
    revocations = InMemoryRevocations()
    far = time.time() + 10 * 365 * 86400
    for _ in range(revoked):
        revocations.revoke_jti(secrets.token_urlsafe(16), expires_at=far)
    verifier = TokenVerifier(KeyRing([HmacKey(API_KEY, SECRET)]), revocations=revocations)
    verify = verifier.verify

    def op(token: str) -> object:
        return verify(token, room=ROOM, identity=IDENTITY, scope=Scope.ROOM)

    return op


def pools(size: int) -> dict[str, list[str]]:
    """Distinct tokens of each shape, minted once by roomkey; every library reads the same."""
    out: dict[str, list[str]] = {}
    for shape in ("native", "livekit"):
        minter = roomkey_minter(shape)
        out[shape] = [
            minter.mint(identity=IDENTITY, room=ROOM, role=ROLE).token for _ in range(size)
        ]
    return out


def verify_cases(cfg: Settings) -> list[Case]:
    """Every verify case, both shapes, each over the same pool of distinct tokens."""
    tokens = pools(cfg.pool)
    empty, loaded = roomkey_verify(0), roomkey_verify(cfg.revoked)
    cases: list[Case] = []
    for shape in ("native", "livekit"):
        pool = tokens[shape]
        cases += [
            Case(f"pyjwt jwt.decode [{shape}]", "verify", "pyjwt", shape, pyjwt_decode, pool),
            Case(f"roomkey verify, 0 revoked [{shape}]", "verify", "roomkey-0", shape, empty, pool),
            Case(
                f"roomkey verify, {cfg.revoked:,} revoked [{shape}]",
                "verify",
                "roomkey",
                shape,
                loaded,
                pool,
            ),
        ]
    name = "livekit-api TokenVerifier [livekit]"
    verifier = lk.TokenVerifier(API_KEY, SECRET)
    return [
        *cases,
        Case(name, "verify", "livekit-api", "livekit", verifier.verify, tokens["livekit"]),
    ]


# ---- running and reporting -----------------------------------------------------------------


def pin_cpu(cpu: int | None) -> str:
    """Pin this process to one CPU when the platform allows; returns a description."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[-1] if cpu is None else cpu
    os.sched_setaffinity(0, {chosen})
    return f"pinned to CPU {chosen} (of {allowed})"


def run_all(cfg: Settings, log: Callable[[str], None]) -> list[Case]:
    """Build every case (a sanity call each: a failing op stops the run), then time them."""
    log(f"  preparing: {cfg.pool:,} tokens per verify pool, {cfg.revoked:,} revoked jtis")
    cases = mint_cases() + verify_cases(cfg)
    for case in cases:
        case.op(case.items[0])
    measure(cases, cfg, log)
    log(f"\n  {'':<53} {'wall ops/s':>10}  {'CPU ops/s':>10}")
    for case in cases:
        rates = f"{case.ops_per_s:>10,.0f}  {case.cpu_ops_per_s:>10,.0f}"
        log(f"  {case.group:<6} {case.name:<46} {rates}")
    return cases


def rate(results: list[Case], group: str, library: str, shape: str) -> float:
    for r in results:
        if (r.group, r.library, r.shape) == (group, library, shape):
            return r.ops_per_s
    raise KeyError((group, library, shape))


def ratios(results: list[Case]) -> dict[str, float]:
    """roomkey ÷ PyJWT (each shape) and roomkey ÷ livekit-api (livekit shape)."""
    out: dict[str, float] = {}
    for group in ("mint", "verify"):
        for shape in ("native", "livekit"):
            rk = rate(results, group, "roomkey", shape)
            out[f"{group} {shape}: roomkey / pyjwt"] = rk / rate(results, group, "pyjwt", shape)
        rk = rate(results, group, "roomkey", "livekit")
        out[f"{group} livekit: roomkey / livekit-api"] = rk / rate(
            results, group, "livekit-api", "livekit"
        )
    return out


def targets(results: list[Case]) -> dict[str, dict[str, Any]]:
    """The performance targets against the reused minter and the fully loaded verifier."""
    out: dict[str, dict[str, Any]] = {}
    for group, goal in (("mint", MINT_TARGET), ("verify", VERIFY_TARGET)):
        for shape in ("native", "livekit"):
            got = rate(results, group, "roomkey", shape)
            out[f"{group} {shape}"] = {"ops_per_s": got, "target": goal, "met": got >= goal}
    return out


def report(results: list[Case], env: dict[str, Any]) -> None:
    print()
    for label, value in ratios(results).items():
        print(f"  {label:<40} {value:6.2f}x")
    print()
    for label, t in targets(results).items():
        verdict = "met" if t["met"] else "NOT met"
        print(f"  target {label:<16} >= {t['target']:>9,}/s: {t['ops_per_s']:>10,.0f}/s  {verdict}")
    print(f"\n  {env['python']} | roomkey {env['roomkey']} | PyJWT {env['pyjwt']} | {env['cpu']}")
    print(f"  load average at start: {env['loadavg_1m']} (other work skews the wall figures)")


def environment(pinned: str) -> dict[str, Any]:
    return {
        "python": f"Python {platform.python_version()}",
        "roomkey": getattr(roomkey, "__version__", "?"),
        "pyjwt": jwt.__version__,
        "cpu": pinned,
        "machine": platform.machine(),
        "loadavg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 x 0.1 s per case")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--repeats", type=int, help="repeats per case (default 7, quick 3)")
    parser.add_argument("--batch-s", type=float, help="seconds per repeat (default 1.0)")
    parser.add_argument(
        "--revoked", type=int, help="jtis revoked (default 1,000,000; quick 100,000)"
    )
    parser.add_argument("--cpu", type=int, help="CPU to pin to (default: the last allowed)")
    return parser.parse_args(argv)


def settings(args: argparse.Namespace) -> Settings:
    quick = args.quick
    revoked = args.revoked if args.revoked is not None else (100_000 if quick else 1_000_000)
    return Settings(
        repeats=args.repeats or (3 if quick else 7),
        batch_s=args.batch_s or (0.1 if quick else 1.0),
        pool=5_000 if quick else POOL,
        revoked=revoked,
    )


def json_line(cfg: Settings, env: dict[str, Any], results: list[Case]) -> str:
    rows = [
        {
            k: getattr(r, k)
            for k in (
                "name",
                "group",
                "library",
                "shape",
                "ops_per_s",
                "cpu_ops_per_s",
                "runs",
                "cpu_runs",
            )
        }
        for r in results
    ]
    line = {
        "settings": cfg.__dict__,
        "env": env,
        "results": rows,
        "ratios": ratios(results),
        "targets": targets(results),
    }
    return json.dumps(line, separators=(",", ":"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = settings(args)
    env = environment(pin_cpu(args.cpu))
    print(f"roomkey token benchmark: {cfg.repeats} x {cfg.batch_s:g} s per case (median)")
    results = run_all(cfg, print)
    report(results, env)
    if args.json:
        print(json_line(cfg, env, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
