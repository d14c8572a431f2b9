"""wrk, the C load generator, for closed-loop throughput: it costs the machine far less per
request than any Python client, so the function under test keeps the cores.

wrk is Debian's package `wrk`; `ensure_wrk` installs it the way dev.py installs
chromium (root and apt-get), or says how to. Each request gets a fresh transaction
id from a Lua counter, and a `done` hook prints the summary as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.workload import ID_MARK, USER_MARK, USER_PREFIX, Template

WRK = "wrk"


class WrkMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failed: int  # non-2xx/3xx answers plus socket errors

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, float | int]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "rate": round(self.rate, 1),
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "failed": self.failed,
        }


def ensure_wrk() -> str:
    """The wrk executable; installs Debian's package when it is missing and this can."""
    found = shutil.which(WRK)
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise WrkMissing("wrk is missing: install Debian's package `wrk` (apt-get install wrk) and run again")
    print("==> installing Debian's wrk for the throughput benchmarks", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        if subprocess.run(command, env=env).returncode != 0:
            raise WrkMissing(f"`{' '.join(command)}` failed: install Debian's package `wrk` and run again")
    return shutil.which(WRK) or WRK


def run(url: str, template: Template, *, connections: int, seconds: float, id_prefix: str) -> WrkResult:
    """POST `template` to `url` from `connections` connections (one wrk thread) for `seconds`."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "post.lua"
        script.write_text(_script(template, id_prefix))
        completed = subprocess.run(
            [ensure_wrk(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        )
    line = next((line for line in completed.stdout.splitlines() if line.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{completed.stdout}\n{completed.stderr}")
    summary = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        failed=summary["status"] + summary["connect"] + summary["read"] + summary["write"] + summary["timeout"],
    )


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def _script(template: Template, id_prefix: str) -> str:
    headers = ",\n".join(
        f"  [ {_lua_string(name)} ] = {_lua_string(value)}" for name, value in template.headers.items()
    )
    return f"""
local counter = 0
local prefix = {_lua_string(id_prefix)}
local mark = {_lua_string(ID_MARK)}
local body = {_lua_string(template.body)}
local user_mark = {_lua_string(USER_MARK)}
local user_prefix = {_lua_string(USER_PREFIX)}
local users = {template.users}
local headers = {{
{headers}
}}

request = function()
  counter = counter + 1
  local id = prefix .. counter
  local with_id = {{}}
  for name, value in pairs(headers) do
    with_id[name] = (value:gsub(mark, id))
  end
  local rendered = body:gsub(mark, id)
  if users > 0 then
    rendered = rendered:gsub(user_mark, user_prefix .. (counter % users))
  end
  return wrk.format("POST", "/", with_id, rendered)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"status": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
"""
