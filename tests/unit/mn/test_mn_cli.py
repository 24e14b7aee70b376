"""mip6-mn's options: a bad bundle or option is one sentence and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from mn_agent import cli


def bundle(tmp: Path, toml: str | None = 'identity = "mn@example.com"\n'
           'home_domain = "Example.COM."\n', swanctl: bool = True) -> Path:
    if toml is not None:
        (tmp / "mip6-mn.toml").write_text(toml)
    if swanctl:
        (tmp / "swanctl.conf").write_text("connections {}\n")
    return tmp


def test_a_bundle_gives_identity_and_home_domain(tmp_path: Path) -> None:
    o = cli.options(["--bundle", str(bundle(tmp_path)), "--nameserver", "2001:db8:1::53#5353"])
    assert (o.identity, o.home_domain, o.conn, o.child) == ("mn@example.com", "example.com",
                                                            "home", "home")
    assert o.nameserver == "2001:db8:1::53#5353" and o.use_dhcp and o.use_srv


@pytest.mark.parametrize(("toml", "swanctl", "args", "message"), [
    (None, True, [], "cannot read"),
    ("identity = [", True, [], "is not valid TOML"),
    ('identity = "a@b"\n', True, [], "lacks the key home_domain"),
    ('identity = "a@b"\nhome_domain = "b"\n', False, [], "holds no swanctl.conf"),
    ('identity = "a@b"\nhome_domain = "b"\n', True, ["--nameserver", "x#y"], "ADDRESS#PORT"),
    ('identity = "a@b"\nhome_domain = "b"\n', True, ["--nameserver", "::1#0"], "ADDRESS#PORT"),
    ('identity = "a@b"\nhome_domain = "b"\n', True, ["--no-dhcp", "--no-srv"], "no way"),
])
def test_bad_bundles_and_options_are_one_sentence(
    tmp_path: Path, toml: str | None, swanctl: bool, args: list[str], message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    b = bundle(tmp_path, toml, swanctl)
    with pytest.raises(SystemExit) as exc:
        cli.main(["--bundle", str(b), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("mip6-mn: ") and message in err and "Traceback" not in err
    assert err.count("\n") == 1
