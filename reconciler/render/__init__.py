"""Renderers: plan -> text (terminal), markdown (PR comment), json (versioned)."""

from reconciler.render.apply import apply_json_chunks, render_apply_json, render_apply_text
from reconciler.render.json import render_json
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text

__all__ = [
    "apply_json_chunks",
    "render_apply_json",
    "render_apply_text",
    "render_json",
    "render_markdown",
    "render_text",
]
