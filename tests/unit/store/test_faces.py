"""The one list of faces: every face builds its own settings, and a bad value names its key."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest

from bootstrap import config, faces
from bootstrap.config import Settings
from bootstrap.errors import ConfigError


def _settings(tmp_path: Path, data: dict[str, dict[str, object]]) -> Settings:
    s = config.from_mapping(data, tmp_path, "t")
    return dataclasses.replace(s, path=tmp_path / "b.toml")


def test_every_face_has_a_settings_builder_and_a_service() -> None:
    assert set(faces.FACES) == {"dhcp", "dns", "vici", "web"}
    for face in faces.FACES.values():
        assert set(face.sections) <= set(config.SECTIONS)
        assert callable(importlib.import_module(face.settings).from_settings)
        assert callable(importlib.import_module(face.serve).serve)


def test_enabled_follows_the_sections(tmp_path: Path) -> None:
    assert faces.enabled(_settings(tmp_path, {})) == ["dhcp", "web"]
    only4 = {"dhcp6": {"enabled": False}, "dhcp4": {"enabled": True}, "web": {"enabled": False}}
    assert faces.enabled(_settings(tmp_path, only4)) == ["dhcp"]


def test_defaults_pass(tmp_path: Path) -> None:
    faces.check(_settings(tmp_path, {}))


@pytest.mark.parametrize(
    ("data", "sentence"),
    [
        ({"dhcp6": {"hop_limit": 99}}, "[dhcp6] hop_limit must be between 0 and 32"),
        ({"dhcp6": {"refresh_time": 5}}, "[dhcp6] refresh_time must be 0 or at least 600"),
        ({"dhcp6": {"reply_port": 0}}, "[dhcp6] reply_port must be a UDP port (1-65535), not 0"),
        ({"web": {"api_page_limit": 0}}, "[web] api_page_limit must be at least 1, not 0"),
        ({"web": {"listen": "8080"}}, "[web] listen must be address:port"),
        ({"dns": {"enabled": True, "ttl": -1}}, "[dns] ttl must be between 0 and"),
        ({"vici": {"enabled": True, "radius_port": 0}}, "[vici] radius_port must be 1-65535"),
    ],
)
def test_a_bad_value_names_file_section_and_key(
    tmp_path: Path, data: dict[str, dict[str, object]], sentence: str
) -> None:
    with pytest.raises(ConfigError) as err:
        faces.check(_settings(tmp_path, data))
    assert str(err.value).startswith(f"{tmp_path / 'b.toml'}: {sentence}")


def test_a_disabled_face_is_not_checked_unless_named(tmp_path: Path) -> None:
    s = _settings(tmp_path, {"dns": {"enabled": False, "ttl": -1}})
    faces.check(s)
    with pytest.raises(ConfigError, match=r"\[dns\] ttl"):
        faces.check(s, ["dns"])
