"""Made-up but plausible file contents for the demo database (deterministic per ``Random``).

Projects come in four kinds (python, node, go, data); each yields (relative path,
content) pairs. Texts are assembled from small templates and word lists so that
full-text search finds real words, identifiers and phrases.
"""

from __future__ import annotations

import random
import struct
import zlib

WORDS = (
    "account", "archive", "batch", "buffer", "cache", "channel", "checkpoint", "client", "config",
    "container", "cursor", "dataset", "digest", "event", "export", "feature", "filter", "handler",
    "index", "invoice", "job", "ledger", "metric", "model", "order", "payload", "pipeline", "queue",
    "record", "report", "request", "result", "retry", "sample", "schedule", "session", "shard",
    "snapshot", "stream", "task", "tenant", "token", "upload", "user", "vector", "worker",
)
VERBS = (
    "load", "parse", "fetch", "build", "render", "merge", "split", "encode", "decode", "validate",
    "normalize", "score", "train", "publish", "resolve", "collect", "compact", "refresh", "sync",
)
PHRASES = (
    "Handles retries with exponential backoff.",
    "Keeps the hot path allocation-free.",
    "Results are cached for five minutes.",
    "Raises ValueError on malformed input.",
    "The caller owns the returned buffer.",
    "Safe to call from several threads.",
    "Données d'entraînement are read lazily.",
    "Timestamps are UTC; convert at the edge.",
    "See the runbook before changing the limits.",
)

MIT_LICENSE = """MIT License

Copyright (c) 2024 Sandbox Examples

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

RETRY_PY = '''"""Retry helper shared by the sandbox examples (vendored, do not edit here)."""

import functools
import random
import time


def retry(attempts=5, base=0.2, cap=10.0, exceptions=(Exception,)):
    """Call the wrapped function until it succeeds, sleeping with full jitter."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for attempt in range(attempts):
                try:
                    return fn(*args, **kwargs)
                except exceptions:
                    if attempt == attempts - 1:
                        raise
                    time.sleep(random.uniform(0, min(cap, base * 2 ** attempt)))
        return wrapper

    return decorate
'''


def _ident(rng: random.Random) -> str:
    return f"{rng.choice(VERBS)}_{rng.choice(WORDS)}"


def _camel(rng: random.Random) -> str:
    return rng.choice(VERBS).capitalize() + rng.choice(WORDS).capitalize()


def python_module(rng: random.Random, name: str) -> str:
    cls = rng.choice(WORDS).capitalize() + rng.choice(("Store", "Client", "Job", "Config"))
    lines = [
        f'"""{name}: {rng.choice(VERBS)} {rng.choice(WORDS)}s for the {rng.choice(WORDS)} service.',
        "",
        rng.choice(PHRASES),
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import json",
        "import logging",
        "from dataclasses import dataclass, field",
        "from pathlib import Path",
        "",
        "log = logging.getLogger(__name__)",
        f"MAX_{rng.choice(WORDS).upper()}S = {rng.choice((16, 64, 100, 256, 1000))}",
        "",
        "",
        "@dataclass",
        f"class {cls}:",
        f'    """{rng.choice(PHRASES)}"""',
        "",
        "    name: str",
        f"    {rng.choice(WORDS)}_path: Path = Path('/data')",
        "    tags: list[str] = field(default_factory=list)",
        "",
    ]
    for _ in range(rng.randint(2, 5)):
        fn = _ident(rng)
        arg = rng.choice(WORDS)
        lines += [
            f"    def {fn}(self, {arg}: dict) -> dict:",
            f'        """{rng.choice(PHRASES)}"""',
            f"        if not {arg}:",
            f"            raise ValueError('empty {arg}')",
            f"        log.debug('{fn} %s', self.name)",
            f"        return {{'{arg}': {arg}, 'owner': self.name}}",
            "",
        ]
    for _ in range(rng.randint(1, 3)):
        fn = _ident(rng)
        lines += [
            "",
            f"def {fn}(path: Path) -> list[dict]:",
            f'    """Read {rng.choice(WORDS)}s from a JSON lines file. {rng.choice(PHRASES)}"""',
            "    out = []",
            "    with path.open(encoding='utf-8') as handle:",
            "        for line in handle:",
            "            if line.strip():",
            "                out.append(json.loads(line))",
            "    return out",
        ]
    lines += ["", "", "if __name__ == '__main__':", f"    print({cls}('demo'))", ""]
    return "\n".join(lines)


def js_module(rng: random.Random, name: str) -> str:
    route = rng.choice(WORDS)
    lines = [
        f"// {name}: routes for /{route}s. {rng.choice(PHRASES)}",
        "'use strict';",
        "",
        "const express = require('express');",
        "const router = express.Router();",
        f"const LIMIT = {rng.choice((20, 50, 100))};",
        "",
    ]
    for _ in range(rng.randint(2, 4)):
        fn = _camel(rng)
        method = rng.choice(("get", "post", "put", "delete"))
        lines += [
            f"async function {fn[0].lower() + fn[1:]}(req, res) {{",
            f"  const {route} = await req.app.locals.db.find('{route}', req.params.id);",
            f"  if (!{route}) return res.status(404).json({{ error: '{route} not found' }});",
            f"  res.json({{ {route}, limit: LIMIT }});",
            "}",
            "",
            f"router.{method}('/{route}s/:id', {fn[0].lower() + fn[1:]});",
            "",
        ]
    lines += ["module.exports = router;", ""]
    return "\n".join(lines)


def go_file(rng: random.Random, package: str) -> str:
    typ = _camel(rng)
    lines = [
        f"// Package {package} {rng.choice(VERBS)}s {rng.choice(WORDS)}s. {rng.choice(PHRASES)}",
        f"package {package}",
        "",
        "import (",
        '\t"context"',
        '\t"errors"',
        '\t"time"',
        ")",
        "",
        f"// {typ} keeps the state of one {rng.choice(WORDS)}.",
        f"type {typ} struct {{",
        "\tID        string",
        "\tCreatedAt time.Time",
        f"\tRetries   int // {rng.choice(PHRASES)}",
        "}",
        "",
        f"var Err{rng.choice(WORDS).capitalize()}NotFound = errors.New(\"{rng.choice(WORDS)} not found\")",
        "",
    ]
    for _ in range(rng.randint(2, 4)):
        fn = _camel(rng)
        lines += [
            f"// {fn} {rng.choice(PHRASES).lower()}",
            f"func (x *{typ}) {fn}(ctx context.Context) error {{",
            "\tselect {",
            "\tcase <-ctx.Done():",
            "\t\treturn ctx.Err()",
            f"\tcase <-time.After({rng.randint(1, 50)} * time.Millisecond):",
            "\t}",
            "\tx.Retries++",
            "\treturn nil",
            "}",
            "",
        ]
    return "\n".join(lines)


def readme(rng: random.Random, project: str, kind: str) -> str:
    run = {"python": "python main.py", "node": "npm start", "go": "go run ./...",
           "data": "jupyter lab"}[kind]
    return "\n".join([
        f"# {project}",
        "",
        f"A small {kind} project that {rng.choice(VERBS)}s {rng.choice(WORDS)}s and "
        f"{rng.choice(VERBS)}s the {rng.choice(WORDS)} {rng.choice(WORDS)}. {rng.choice(PHRASES)}",
        "",
        "## Running",
        "",
        "```sh",
        run,
        "```",
        "",
        "## Notes",
        "",
        *(f"- {rng.choice(PHRASES)}" for _ in range(rng.randint(2, 5))),
        "",
    ])


def csv_data(rng: random.Random, rows: int) -> str:
    out = ["timestamp,sandbox,region,requests,latency_ms,errors,label"]
    regions = ("eu-west-1", "us-east-1", "ap-south-1", "eu-central-1")
    for i in range(rows):
        out.append(
            f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{(i * 7) % 60:02d}:00Z,sbx-{rng.randint(1, 60):03d},"
            f"{rng.choice(regions)},{rng.randint(0, 5000)},{rng.uniform(2, 900):.1f},"
            f"{rng.randint(0, 12)},{rng.choice(WORDS)}"
        )
    return "\n".join(out) + "\n"


def log_lines(rng: random.Random, count: int, start: int = 0) -> str:
    levels = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
    out = []
    for i in range(start, start + count):
        level = rng.choice(levels)
        out.append(
            f"2026-11-{1 + (i // 2000) % 28:02d} {(i // 90) % 24:02d}:{(i // 2) % 60:02d}:{i % 60:02d} "
            f"{level:<5} {rng.choice(WORDS)}.{rng.choice(VERBS)}: {rng.choice(PHRASES)} "
            f"id={rng.getrandbits(32):08x} took={rng.randint(1, 999)}ms"
        )
    return "\n".join(out) + "\n"


def yaml_config(rng: random.Random, project: str) -> str:
    return "\n".join([
        f"service: {project}",
        "replicas: " + str(rng.randint(1, 4)),
        "resources:",
        f"  cpu: \"{rng.choice(('250m', '500m', '1', '2'))}\"",
        f"  memory: {rng.choice(('256Mi', '512Mi', '1Gi'))}",
        "env:",
        f"  LOG_LEVEL: {rng.choice(('debug', 'info', 'warn'))}",
        f"  FEATURE_{rng.choice(WORDS).upper()}: \"true\"",
        "",
    ])


def html_page(rng: random.Random, project: str) -> str:
    return "\n".join([
        "<!doctype html>",
        "<html lang=\"en\">",
        f"<head><meta charset=\"utf-8\"><title>{project}</title></head>",
        "<body>",
        f"  <h1>{project}</h1>",
        f"  <p>{rng.choice(PHRASES)} &amp; more: <b>{rng.choice(WORDS)}</b></p>",
        "  <script src=\"app.js\"></script>",
        "</body>",
        "</html>",
        "",
    ])


def png_image(rng: random.Random, width: int = 32, height: int = 32) -> bytes:
    """A valid small PNG (a coloured gradient)."""
    r, g, b = rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows += bytes(((r + x * 7) % 256, (g + y * 7) % 256, b))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows)))
            + chunk(b"IEND", b""))


def binary_blob(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def project_files(rng: random.Random, kind: str, project: str) -> list[tuple[str, bytes]]:
    """The files of one project (relative paths), without the shared ones."""
    files: list[tuple[str, str | bytes]] = [("README.md", readme(rng, project, kind))]
    if kind == "python":
        files += [("main.py", python_module(rng, "main")),
                  ("requirements.txt", "\n".join(sorted(rng.sample(
                      ["requests==2.32.3", "numpy==1.26.4", "pandas==2.2.2", "fastapi==0.111.0",
                       "uvicorn==0.30.1", "pydantic==2.7.4", "sqlalchemy==2.0.31"], 4))) + "\n")]
        files += [(f"{project}/{rng.choice(WORDS)}_{i}.py", python_module(rng, f"{project}.{i}"))
                  for i in range(rng.randint(2, 5))]
        files.append(("tests/test_main.py", python_module(rng, "tests")))
    elif kind == "node":
        files += [("package.json", "{\n  \"name\": \"" + project + "\",\n  \"version\": \"1."
                   + str(rng.randint(0, 9)) + ".0\",\n  \"main\": \"src/index.js\",\n"
                   "  \"dependencies\": {\"express\": \"^4.19.2\"}\n}\n"),
                  ("public/index.html", html_page(rng, project))]
        files += [(f"src/{rng.choice(WORDS)}_{i}.js", js_module(rng, f"{project}/{i}"))
                  for i in range(rng.randint(2, 5))]
    elif kind == "go":
        files += [("go.mod", f"module example.com/{project}\n\ngo 1.22\n")]
        files += [(f"internal/{rng.choice(WORDS)}/{rng.choice(WORDS)}_{i}.go",
                   go_file(rng, rng.choice(WORDS))) for i in range(rng.randint(2, 5))]
        files.append(("main.go", go_file(rng, "main")))
    else:  # data
        files += [("analysis.py", python_module(rng, "analysis")),
                  ("data/events.csv", csv_data(rng, rng.randint(200, 1500)))]
    files.append(("config.yaml", yaml_config(rng, project)))
    return [(p, c.encode("utf-8") if isinstance(c, str) else c) for p, c in files]
