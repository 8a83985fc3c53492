"""TLS over a ``tls://`` target: the client's options as given, and what they decide (pure).

The trade-off: the options stay with the run's other options (declared once here, read
by reflection like every other record), while what the engine reads is one
:class:`TlsSettings`, with the trust already decided: ``--tls-ca`` as read from its
file, a built-in model's own CA (``--server-tls``), the system's, or none at all
(``--tls-insecure``, said in the result and on the terminal).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sockbench.core.spec.option import RUN_COMPARE_SERVE, option, optional, switch, text
from sockbench.errors import ConfigError

#: ``--tls-version``: each choice pins that version; not given: 1.2 or 1.3, as negotiated.
TLS_VERSIONS = ("1.2", "1.3")
ALPN_MAX = 255  # an ALPN protocol name is 1-255 bytes (RFC 7301)


def _alpn(value: object, flag: str) -> tuple[str, ...]:
    """``h2,http/1.1``: the protocols offered, in order of preference."""
    if value is None:
        return ()
    if isinstance(value, tuple):
        return value
    names = tuple(name.strip() for name in str(value).split(","))
    for name in names:
        if not 1 <= len(name.encode()) <= ALPN_MAX:
            raise ConfigError(
                f"{flag} {value!r}: each protocol name must be 1-{ALPN_MAX} bytes "
                "(a comma-separated list: h2,http/1.1)"
            )
    return names


def _version(value: object, flag: str) -> str | None:
    if value is None or not str(value).strip():
        return None
    given = str(value).strip().lower().removeprefix("tlsv").removeprefix("tls")
    if given not in TLS_VERSIONS:
        raise ConfigError(f"{flag} {value!r}: choose {' or '.join(TLS_VERSIONS)}")
    return given


@dataclass(frozen=True)
class TlsOptions:
    """The TLS options as given: the client's, and ``--server-tls`` for a built-in model."""

    tls_ca: str | None = option(
        None, "--tls-ca", metavar="FILE",
        help="tls:// target: trust the CA certificates in this PEM file",
        parse=optional(text),
        default_help="the system's (a built-in model's own with --server-tls)",
    )  # fmt: skip
    tls_insecure: bool = option(
        False, "--tls-insecure",
        help="tls:// target: accept any certificate (self-signed, expired, another name); "
        "said loudly in the result",
        parse=switch,
    )  # fmt: skip
    tls_sni: str | None = option(
        None, "--tls-sni", metavar="NAME",
        help="tls:// target: the server name sent (SNI) and checked in its certificate",
        parse=optional(text), default_help="the target's host",
    )  # fmt: skip
    tls_alpn: tuple[str, ...] = option(
        (), "--tls-alpn", metavar="LIST",
        help="tls:// target: ALPN protocols offered, in order: h2,http/1.1",
        parse=_alpn, default_help="none", commas=True,
    )  # fmt: skip
    tls_version: str | None = option(
        None, "--tls-version", metavar="1.2|1.3",
        help="tls:// target: only this TLS version", parse=_version,
        default_help="1.2 or 1.3, as negotiated",
    )  # fmt: skip
    tls_resume: bool = option(
        False, "--tls-resume",
        help="tls:// target: resume the client's last session on each reconnect "
        "(churn: every request after the first)",
        parse=switch,
    )  # fmt: skip
    server_tls: bool = option(
        False, "--server-tls",
        help="the built-in model serves TLS with a certificate made at its start "
        "(trustme); the run's tls:// clients trust its CA",
        parse=switch, commands=RUN_COMPARE_SERVE,
    )  # fmt: skip

    def given(self) -> list[str]:
        """The client options given, by flag (they need a tls:// target)."""
        return [
            flag
            for flag, on in (
                ("--tls-ca", self.tls_ca is not None), ("--tls-insecure", self.tls_insecure),
                ("--tls-sni", self.tls_sni is not None), ("--tls-alpn", bool(self.tls_alpn)),
                ("--tls-version", self.tls_version is not None),
                ("--tls-resume", self.tls_resume),
            )
            if on
        ]  # fmt: skip


@dataclass(frozen=True)
class TlsSettings:
    """What a run's TLS clients do: whom they trust, what they offer, whether they resume.

    ``ca_pem`` None with ``verify``: the system's CAs. ``server_name`` None: the
    target's host (an IP address is then checked against the certificate's IP names).
    """

    verify: bool = True
    ca_pem: str | None = None
    ca_file: str | None = None  # where ca_pem was read from (the result records it)
    server_name: str | None = None
    alpn: tuple[str, ...] = ()
    version: str | None = None  # "1.2" or "1.3": only that; None: either
    resume: bool = False

    def name_for(self, host: str) -> str:
        """The name sent (SNI) and checked in the certificate of a server at ``host``."""
        return self.server_name or host

    def trusting(self, ca_pem: str) -> TlsSettings:
        """The same, trusting ``ca_pem`` (a built-in model's CA, known once it started)."""
        return replace(self, ca_pem=ca_pem)

    def to_json(self) -> dict[str, object]:
        return {
            "verify": self.verify,
            "ca_file": self.ca_file,
            "server_name": self.server_name,
            "alpn": list(self.alpn),
            "version": self.version,
            "resume": self.resume,
        }


def tls_settings(given: TlsOptions, tls_target: bool, ca_pem: str | None) -> TlsSettings | None:
    """The run's TLS settings (None: not a TLS run); ``ca_pem`` is ``--tls-ca``'s content.

    ``tls_target``: the target is ``tls://``, or a built-in model serves TLS.
    """
    if not tls_target:
        flags = given.given()
        if flags:
            raise ConfigError(
                f"{', '.join(flags)} {'applies' if len(flags) == 1 else 'apply'} to a TLS "
                "target: give --target tls://HOST:PORT, or --server-tls for a built-in model"
            )
        return None
    if given.tls_insecure and given.tls_ca is not None:
        raise ConfigError("give --tls-ca or --tls-insecure, not both")
    if given.tls_sni is not None and not given.tls_sni.strip():
        raise ConfigError("--tls-sni must not be empty")
    return TlsSettings(
        verify=not given.tls_insecure,
        ca_pem=ca_pem,
        ca_file=given.tls_ca,
        server_name=given.tls_sni.strip() if given.tls_sni else None,
        alpn=given.tls_alpn,
        version=given.tls_version,
        resume=given.tls_resume,
    )


def check_ca_pem(text_: str, path: str) -> str:
    """``--tls-ca``'s content, if it holds a PEM certificate; else one line."""
    if "-----BEGIN CERTIFICATE-----" not in text_:
        raise ConfigError(
            f"--tls-ca {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----); "
            "give the CA's certificate in PEM"
        )
    return text_
