"""An offline English corpus: the docstrings of Python's standard library (the interpreter always has it),
for the masked-language-model examples."""
from __future__ import annotations

import importlib
import inspect
import re
import warnings

# Pure-Python, import-safe, well-documented modules; a fixed list keeps the corpus the same everywhere.
_MODULES = ("argparse", "asyncio", "collections", "contextlib", "csv", "dataclasses", "datetime", "decimal",
            "difflib", "email", "enum", "fractions", "functools", "heapq", "http.client", "inspect", "ipaddress",
            "json", "logging", "os", "pathlib", "pickle", "pprint", "queue", "random", "re", "shutil",
            "statistics", "string", "subprocess", "tarfile", "textwrap", "threading", "typing", "unittest",
            "urllib.parse", "uuid", "zipfile")


def _docstrings(module) -> list[str]:
    docs = [inspect.getdoc(module) or ""]
    for _, obj in sorted(vars(module).items()):
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(obj, "__module__", None) == module.__name__:
            docs.append(inspect.getdoc(obj) or "")
            if inspect.isclass(obj):
                for _, member in sorted(vars(obj).items()):
                    if inspect.isfunction(member):
                        docs.append(inspect.getdoc(member) or "")
    return docs


def stdlib_sentences(min_words: int = 5, max_words: int = 64, return_modules: bool = False):
    """Sentences (lower-cased, whitespace-normalised) from the stdlib docstrings, deduplicated, in a
    stable order. With ``return_modules`` a pair ``(sentences, modules)``: beside each sentence the name of
    the module whose docstrings it came from (first occurrence wins for a duplicate), a label for
    text-classification examples."""
    seen, out, modules = set(), [], []
    for name in _MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # a stripped-down interpreter: skip, the rest is plenty
            continue
        with warnings.catch_warnings():  # some stdlib attributes warn when touched (typing.re ...)
            warnings.simplefilter("ignore")
            docs = _docstrings(module)
        for doc in docs:
            text = re.sub(r"\s+", " ", doc).strip().lower()
            for sentence in re.split(r"(?<=[.!?])\s+", text):
                words = sentence.split()
                if min_words <= len(words) <= max_words and sentence not in seen:
                    seen.add(sentence)
                    out.append(sentence)
                    modules.append(name)
    return (out, modules) if return_modules else out
