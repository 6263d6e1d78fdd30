"""SecretBox: AES-256-GCM secrets at rest, bound to their key id; master key handling."""

from __future__ import annotations

import base64
import stat
import threading
from pathlib import Path

import pytest

from roomkey.errors import ConfigurationError
from roomkey.secretbox import MASTER_KEY_ENV, SecretBox

MASTER = bytes(range(32))
SECRET = b"hmac-secret-of-at-least-32-bytes-long!!"


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(MASTER)


def test_round_trip_with_a_fresh_nonce_each_time(box: SecretBox) -> None:
    first = box.encrypt(SECRET, key_id="APIkey1")
    second = box.encrypt(SECRET, key_id="APIkey1")
    assert first != second and first[1:13] != second[1:13]
    assert box.decrypt(first, key_id="APIkey1") == SECRET
    assert box.decrypt(second, key_id="APIkey1") == SECRET
    assert SECRET not in first
    assert box.decrypt(box.encrypt(b"", key_id="k"), key_id="k") == b""


def test_ciphertext_moved_to_another_key_id_fails(box: SecretBox) -> None:
    sealed = box.encrypt(SECRET, key_id="APIkey1")
    with pytest.raises(ConfigurationError):
        box.decrypt(sealed, key_id="APIkey2")


@pytest.mark.parametrize("position", [0, 1, 12, 13, 20, -1])
def test_any_altered_byte_fails(box: SecretBox, position: int) -> None:
    sealed = bytearray(box.encrypt(SECRET, key_id="k"))
    sealed[position] ^= 0x01
    with pytest.raises(ConfigurationError):
        box.decrypt(bytes(sealed), key_id="k")


@pytest.mark.parametrize("length", [0, 1, 13, 28])
def test_truncated_ciphertext_fails(box: SecretBox, length: int) -> None:
    with pytest.raises(ConfigurationError):
        box.decrypt(box.encrypt(SECRET, key_id="k")[:length], key_id="k")


def test_another_master_key_cannot_decrypt(box: SecretBox) -> None:
    sealed = box.encrypt(SECRET, key_id="k")
    with pytest.raises(ConfigurationError, match="wrong master key"):
        SecretBox(bytes(32)).decrypt(sealed, key_id="k")


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33), "x" * 32])
def test_master_key_must_be_32_bytes(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        SecretBox(bad)  # type: ignore[arg-type]


def test_repr_hides_the_key(box: SecretBox) -> None:
    shown = repr(box) + str(box)
    b64 = base64.urlsafe_b64encode(MASTER).decode()
    assert MASTER.hex() not in shown and b64.rstrip("=") not in shown and repr(MASTER) not in shown
    assert box.fingerprint in shown
    assert not hasattr(box, "__dict__")


def test_from_env_accepts_base64url_with_or_without_padding() -> None:
    value = base64.urlsafe_b64encode(MASTER).decode()
    for candidate in (value, value.rstrip("="), f"  {value}\n"):
        box = SecretBox.from_env({MASTER_KEY_ENV: candidate})
        assert box.fingerprint == SecretBox(MASTER).fingerprint


@pytest.mark.parametrize(
    # a fixed over-long key (33 bytes): parameters must be the same in every pytest-xdist worker
    "value",
    ["", "   ", "not base64 !!", "AAAA", "A" * 43 + "AA"],
)
def test_from_env_refuses_missing_or_bad_values(value: str) -> None:
    with pytest.raises(ConfigurationError):
        SecretBox.from_env({MASTER_KEY_ENV: value})
    with pytest.raises(ConfigurationError, match=MASTER_KEY_ENV):
        SecretBox.from_env({})


def test_generated_keys_are_random_and_usable() -> None:
    keys = {SecretBox.generate_key() for _ in range(5)}
    assert len(keys) == 5
    assert all(len(k) == 43 and "=" not in k for k in keys)
    SecretBox.from_b64(keys.pop())


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "master.key"
    created = SecretBox.from_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = SecretBox.from_file(path)
    assert reloaded.fingerprint == created.fingerprint
    assert reloaded.decrypt(created.encrypt(SECRET, key_id="k"), key_id="k") == SECRET
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]  # no temp file left


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    path.write_text(SecretBox.generate_key())
    path.chmod(mode)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        SecretBox.from_file(path)


def test_key_file_with_garbage_or_a_directory_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.key"
    garbage.write_text("hello")
    garbage.chmod(0o600)
    with pytest.raises(ConfigurationError):
        SecretBox.from_file(garbage)
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o700)
    with pytest.raises(ConfigurationError):
        SecretBox.from_file(folder)


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    results: list[str] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        results.append(SecretBox.from_file(path).fingerprint)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1


def test_uncreatable_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    # a regular file where the parent directory should be: fails even for root
    (tmp_path / "not-a-dir").write_text("x")
    with pytest.raises(ConfigurationError, match="cannot create"):
        SecretBox.from_file(tmp_path / "not-a-dir" / "master.key")
