"""The installed ``roomkey`` console script, run for real, with the issue's commands as written."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from cli_support import API_KEY, SCRIPT, SECRET

FLAGS = (
    '--api-key APIkey1 --api-secret "$SECRET" --room standup --identity alice --role speaker '
    '--metadata \'{"walletAddress":"mizanxali.eth"}\' --ttl 15m'
)


def sh(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in bash with the venv's ``roomkey`` first on PATH and $SECRET set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMKEY_")}
    env.update(SECRET=SECRET, PATH=f"{SCRIPT.parent}{os.pathsep}{env.get('PATH', '')}")
    done = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert SECRET not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done


def test_script_is_installed() -> None:
    assert SCRIPT.is_file()


def test_issue_examples(tmp_path: Path) -> None:
    native = sh(f"roomkey token create {FLAGS}", tmp_path)
    assert native.returncode == 0, native.stderr
    token = native.stdout.strip()
    assert sh(f"roomkey token create {FLAGS} --dialect livekit", tmp_path).returncode == 0

    videosdk = sh(
        f"roomkey token create {FLAGS} --dialect videosdk --join ask --scope room", tmp_path
    )
    assert videosdk.returncode == 2 and videosdk.stdout == ""
    assert videosdk.stderr.startswith("error: ") and "field: sources" in videosdk.stderr
    guest = FLAGS.replace("speaker", "guest").split(" --metadata")[0] + " --ttl 15m"
    assert (
        sh(
            f"roomkey token create {guest} --dialect videosdk --join ask --scope room", tmp_path
        ).returncode
        == 0
    )

    keygen = sh("roomkey keys generate --alg EdDSA --out ed25519.pem", tmp_path)
    assert keygen.returncode == 0, keygen.stderr
    huddle = sh(f"roomkey token create {FLAGS} --dialect huddle01 --key-file ed25519.pem", tmp_path)
    assert huddle.returncode == 0, huddle.stderr

    inspect = sh(f"roomkey token inspect {token}", tmp_path)
    assert inspect.returncode == 0 and "speaker" in inspect.stdout
    verify = sh(
        f'roomkey token verify {token} --api-key APIkey1 --api-secret "$SECRET" '
        "--room standup --identity alice",
        tmp_path,
    )
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["claims"]["api_key"] == API_KEY
    assert sh("roomkey keys generate --alg EdDSA", tmp_path).stdout.startswith("-----BEGIN")


def test_exit_codes_and_pipes(tmp_path: Path) -> None:
    token = sh(f"roomkey token create {FLAGS}", tmp_path).stdout.strip()
    piped = sh(
        f'echo {token} | roomkey token verify - --api-key APIkey1 --api-secret "$SECRET"', tmp_path
    )
    assert piped.returncode == 0, piped.stderr
    wrong = sh(
        f'roomkey token verify {token} --api-key APIkey1 --api-secret "$SECRET" --room x', tmp_path
    )
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["code"] == "wrong_room"
    usage = sh(f"roomkey token verify {token}", tmp_path)
    assert usage.returncode == 2 and usage.stdout == ""
    assert sh("roomkey --version", tmp_path).stdout.startswith("roomkey ")
