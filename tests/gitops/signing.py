"""Real SSH signing keys for tests, made with ``ssh-keygen`` (ed25519: milliseconds)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SshKey:
    private: Path
    principal: str

    @property
    def allowed(self) -> str:
        """This key's line of an allowed-signers file."""
        kind, key = self.private.with_suffix(".pub").read_text().split()[:2]
        return f"{self.principal} {kind} {key}\n"


def ssh_key(folder: Path, principal: str) -> SshKey:
    """A new passphrase-less ed25519 key ``folder/principal`` (and ``.pub``)."""
    folder.mkdir(parents=True, exist_ok=True)
    private = folder / principal.split("@")[0]
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", principal, "-f", str(private)],
        check=True,
    )
    return SshKey(private, principal)
