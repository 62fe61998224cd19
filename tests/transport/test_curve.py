"""Key files, allow-lists and settings for CURVE (files on disk, no network)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import zmq
from zmq.utils import z85

from zq.core.access import KEY_PRODUCER, KEY_WORKER
from zq.exceptions import SecurityConfigError
from zq.transport.curve import AllowList, CurveSettings, check_libzmq, generate, read_public


def test_generate_writes_a_public_key_and_an_owner_only_secret_key(tmp_path: Path) -> None:
    public, secret = generate(tmp_path / "new", "host-a")
    assert (public.name, secret.name) == ("host-a.key", "host-a.key_secret")
    assert secret.stat().st_mode & 0o777 == 0o600
    assert public.stat().st_mode & 0o077 == public.stat().st_mode & 0o044  # readable, not writable
    pub, sec = zmq.auth.load_certificate(secret)
    assert sec is not None and zmq.curve_public(sec) == pub == read_public(str(public))


def test_generate_never_overwrites_a_key(tmp_path: Path) -> None:
    generate(tmp_path, "a")
    before = (tmp_path / "a.key_secret").read_text()
    with pytest.raises(SecurityConfigError, match="not overwriting"):
        generate(tmp_path, "a")
    assert (tmp_path / "a.key_secret").read_text() == before
    with pytest.raises(SecurityConfigError, match="bad key name"):
        generate(tmp_path, "../a")


def test_loading_says_which_file_is_wrong_and_how(tmp_path: Path) -> None:
    public, _ = generate(tmp_path, "a")
    (tmp_path / "junk.key").write_text("not a certificate\n")
    cases = {
        str(tmp_path / "missing.key_secret"): "not found",
        str(public): "holds no secret key",
        str(tmp_path / "junk.key"): "not a CURVE key file",
    }
    for path, says in cases.items():
        with pytest.raises(SecurityConfigError, match=says):
            CurveSettings(path).load()


def test_the_server_key_is_a_file_or_z85_text_and_defaults_to_our_own(tmp_path: Path) -> None:
    own_public, own_secret = generate(tmp_path, "own")
    other_public, _ = generate(tmp_path, "other")
    text = read_public(str(other_public)).decode()
    assert CurveSettings(str(own_secret)).load().server == read_public(str(own_public))
    assert CurveSettings(str(own_secret), str(other_public)).load().server == text.encode()
    assert CurveSettings(str(own_secret), text).load().server == text.encode()
    with pytest.raises(SecurityConfigError, match="not found"):
        CurveSettings(str(own_secret), "x" * 39).load()


def test_a_secret_key_others_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, secret = generate(tmp_path, "a")
    os.chmod(secret, 0o644)
    with caplog.at_level(logging.WARNING, "zq.security"):
        CurveSettings(str(secret)).load()
    assert "readable by other users" in caplog.text


def test_allow_list_roles_and_changes_without_a_restart(tmp_path: Path) -> None:
    own, _ = generate(tmp_path, "own")
    workers, producers = tmp_path / "workers", tmp_path / "producers"
    workers.mkdir()
    producers.mkdir()
    w, _ = generate(workers, "w")
    p, _ = generate(producers, "p")
    both, _ = generate(producers, "both")
    (workers / "both.key").write_text(both.read_text())
    for secret in [*workers.glob("*.key_secret"), *producers.glob("*.key_secret")]:
        secret.unlink()  # an allow-list holds public keys only
    allow = AllowList(read_public(str(own)), str(workers), str(producers))

    def raw(path: Path) -> bytes:
        return z85.decode(read_public(str(path)))

    assert allow.roles() == {
        raw(own): KEY_WORKER,
        raw(w): KEY_WORKER,
        raw(p): KEY_PRODUCER,
        raw(both): KEY_WORKER,  # in both lists: the wider role
    }
    late, _ = generate(workers, "late")
    gone = raw(p)
    p.unlink()
    roles = allow.roles()
    assert roles[raw(late)] == KEY_WORKER and gone not in roles


def test_an_allow_list_directory_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SecurityConfigError, match="not found"):
        AllowList(b"0" * 40, str(tmp_path / "nope"), None)


def test_settings_come_from_arguments_then_environment() -> None:
    env = {"ZQ_CURVE_KEY": "env.key_secret", "ZQ_CURVE_SERVER_KEY": "server.key"}
    assert CurveSettings.resolve(env) == CurveSettings("env.key_secret", "server.key")
    given = CurveSettings.resolve(env, key="mine.key_secret", workers="w")
    assert given == CurveSettings("mine.key_secret", "server.key", "w")
    assert CurveSettings.resolve({}) is None  # no key anywhere: CURVE is off
    with pytest.raises(SecurityConfigError, match="ZQ_CURVE_WORKERS set without a key"):
        CurveSettings.resolve({"ZQ_CURVE_WORKERS": "w"})


def test_a_libzmq_with_known_curve_flaws_is_refused() -> None:
    with pytest.raises(SecurityConfigError, match=r"libzmq 4\.3\.2 has known security flaws"):
        check_libzmq((4, 3, 2))
    check_libzmq((4, 3, 5))
    check_libzmq(curve=True)  # the one installed


def test_a_broken_file_in_an_allow_list_is_skipped_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    own, _ = generate(tmp_path, "own")
    workers = tmp_path / "workers"
    good, _ = generate(workers, "good")
    (workers / "broken.key").write_text("not a key\n")
    with caplog.at_level(logging.ERROR, "zq.security"):
        roles = AllowList(read_public(str(own)), str(workers), None).roles()
    assert z85.decode(read_public(str(good))) in roles and len(roles) == 2
    assert "skipping" in caplog.text and "broken.key" in caplog.text
