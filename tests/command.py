"""``pcgw`` as a user runs it: the installed entry point in a subprocess, its exit status and
both streams, for the tests of every command group."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PCGW = str(Path(sys.executable).with_name("pcgw"))


@dataclass
class Run:
    code: int
    out: str
    err: str

    def ok(self) -> Run:
        assert self.code == 0, (self.code, self.out, self.err)
        assert "Traceback" not in self.err
        return self

    def json(self) -> Any:
        return json.loads(self.ok().out)

    def refused(self, code: int, message: str) -> None:
        """Exit ``code``, one line on stderr naming ``message``, nothing on stdout."""
        assert self.code == code, (self.code, self.out, self.err)
        assert self.err.strip().splitlines() == [self.err.strip()], self.err
        assert message in self.err, self.err
        assert self.out == ""


async def run(*args: str, env: Mapping[str, str]) -> Run:
    """``pcgw ARGS`` with exactly ``env``; at most a minute."""
    process = await asyncio.create_subprocess_exec(
        PCGW, *args, env=dict(env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())
