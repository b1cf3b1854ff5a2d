"""The generation parameters every rendered PNG carries, in the text AUTOMATIC1111 writes.

Each PNG the render worker encodes has a ``parameters`` text chunk (``tEXt``, or ``iTXt`` when the
text is not Latin-1), the chunk that AUTOMATIC1111's "PNG Info" tab and Civitai read, beside the
render cache key chunk (:data:`chatgenbench.render.cache.PNG_KEY_CHUNK`). Three lines::

    a cat on a sofa
    Negative prompt: blurry
    Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Lora: add_detail, Lora scale: 0.8, Lora hashes: "add_detail: 7c6ab3b9b6", Scheduler: DPMSolverMultistepScheduler, Scheduler settings: "{\\"use_karras_sigmas\\": true}", Dtype: float16, Generator: torch.Generator(cpu), Version: chatgenbench 0.1.0

- ``Sampler`` is the A1111 name the render used (after any fallback); ``Scheduler`` and
  ``Scheduler settings`` the diffusers class and settings that stand for it.
- ``Model hash`` is the first 10 hex digits of the checkpoint's sha256 identity (A1111's
  "AutoV2" hash for a single file); ``Model`` the checkpoint's catalogue name. A LoRA adds
  ``Lora``, ``Lora scale`` and ``Lora hashes`` (A1111's own field).
- Untrusted text cannot forge a line: in the prompt and negative prompt a backslash is written
  ``\\\\``, a newline ``\\n``, a carriage return ``\\r``, and every other line break Python
  knows and every lone surrogate ``\\uXXXX``; a value of the last line that holds a comma, a
  colon, a quote or a backslash is a JSON string (as A1111 quotes them). So the text always has
  exactly these three lines, and :func:`parse_parameters` gives back exactly what was written.
  A prompt with newlines therefore shows ``\\n`` in A1111's PNG Info.
- Pixels are untouched: the text is a PNG chunk beside the image data.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from chatgenbench.render.planning import RenderRequest

#: The PNG text chunk A1111 and Civitai read.
PARAMETERS_CHUNK = "parameters"
NEGATIVE_PREFIX = "Negative prompt: "
#: Characters written as escapes in the prompt lines (line breaks of ``str.splitlines``).
_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_NEEDS_ESCAPE = re.compile("[\\\\" + _BREAKS + "\ud800-\udfff]")
_ESCAPE = re.compile(r"\\(\\|n|r|u[0-9a-fA-F]{4})")
#: One ``Key: value`` of the last line (A1111's own pattern: a value is a JSON string or has no
#: comma).
_FIELD = re.compile(r'\s*([\w][\w \-/]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')
_PLAIN_VALUE = re.compile('[^,:"\\\\' + _BREAKS + "\ud800-\udfff]*")


def escape_text(value: str) -> str:
    """Return a prompt written on one line: backslash, line breaks and lone surrogates escaped."""

    def one(match: re.Match) -> str:
        char = match.group(0)
        return {"\\": "\\\\", "\n": "\\n", "\r": "\\r"}.get(char, f"\\u{ord(char):04x}")

    return _NEEDS_ESCAPE.sub(one, value)


def unescape_text(value: str) -> str:
    """Invert :func:`escape_text`."""

    def one(match: re.Match) -> str:
        code = match.group(1)
        return {"\\": "\\", "n": "\n", "r": "\r"}.get(code) or chr(int(code[1:], 16))

    return _ESCAPE.sub(one, value)


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if _PLAIN_VALUE.fullmatch(text) and text == text.strip() and text:
        return text
    return json.dumps(text)  # ASCII: lone surrogates and line breaks become escapes


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def short_hash(identity: str | None) -> str | None:
    """Return the first 10 hex digits of a content identity (``sha256:...``): A1111's hash."""
    if not identity:
        return None
    return identity.split(":", 1)[-1][:10]


def parameters_fields(request: RenderRequest) -> dict[str, Any]:
    """Return the ``Key: value`` fields of a request's parameters line, in A1111's order."""
    from chatgenbench.core.version import __version__

    arguments = request.arguments
    fields: dict[str, Any] = {
        "Steps": arguments.steps,
        "Sampler": arguments.scheduler.sampler,
        "CFG scale": _number(arguments.cfg_scale),
        "Seed": arguments.seed,
        "Size": f"{arguments.width}x{arguments.height}",
        "Model hash": short_hash(request.checkpoint.identity),
        "Model": request.checkpoint.name,
    }
    if request.lora is not None:
        fields["Lora"] = request.lora.name
        fields["Lora scale"] = _number(request.lora_scale)
        fields["Lora hashes"] = f"{request.lora.name}: {short_hash(request.lora.identity)}"
    fields["Scheduler"] = arguments.scheduler.scheduler
    fields["Scheduler settings"] = json.dumps(dict(arguments.scheduler.settings), sort_keys=True)
    fields["Dtype"] = request.dtype
    fields["Generator"] = "torch.Generator(cpu)"
    fields["Version"] = f"chatgenbench {__version__}"
    return {key: value for key, value in fields.items() if value is not None}


def parameters_text(request: RenderRequest) -> str:
    """Return the ``parameters`` text of a request (see the module docstring)."""
    line = ", ".join(f"{key}: {_value(value)}" for key, value in parameters_fields(request).items())
    return "\n".join(
        [
            escape_text(request.prompt),
            NEGATIVE_PREFIX + escape_text(request.negative_prompt),
            line,
        ]
    )


def parse_parameters(text: str) -> dict[str, Any]:
    """Parse a ``parameters`` text written by :func:`parameters_text` back into its values.

    Returns ``prompt``, ``negative_prompt`` and the last line's fields by their A1111 names,
    with ``Steps`` and ``Seed`` as int, ``CFG scale`` and ``Lora scale`` as float, ``Size`` split
    into ``width`` and ``height`` and ``Scheduler settings`` as a dict. Raises ValueError for a
    text that is not three such lines.
    """
    lines = text.split("\n")
    if len(lines) != 3 or not lines[1].startswith(NEGATIVE_PREFIX):
        raise ValueError("not a chatgenbench parameters text: expected prompt, negative prompt "
                         "and parameter lines")  # fmt: skip
    found: dict[str, Any] = {
        "prompt": unescape_text(lines[0]),
        "negative_prompt": unescape_text(lines[1][len(NEGATIVE_PREFIX) :]),
    }
    position = 0
    last = lines[2]
    while position < len(last):
        match = _FIELD.match(last, position)
        if match is None or match.end() == position:
            raise ValueError(
                f"parameters line: cannot read from {last[position : position + 40]!r}"
            )
        key, raw = match.group(1).strip(), match.group(2).strip()
        found[key] = json.loads(raw) if raw.startswith('"') else raw
        position = match.end()
    for key in ("Steps", "Seed"):
        if key in found:
            found[key] = int(found[key])
    for key in ("CFG scale", "Lora scale"):
        if key in found:
            found[key] = float(found[key])
    if "Size" in found:
        width, _, height = str(found.pop("Size")).partition("x")
        found["width"], found["height"] = int(width), int(height)
    if "Scheduler settings" in found:
        found["Scheduler settings"] = json.loads(found["Scheduler settings"])
    return found


def png_parameters(png: bytes) -> str | None:
    """Return the ``parameters`` text of PNG bytes, or None."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(png)) as image:
            text = getattr(image, "text", {}).get(PARAMETERS_CHUNK)
    except (OSError, ValueError, SyntaxError):  # PIL's errors for a truncated or foreign file
        return None
    return text if isinstance(text, str) else None
