"""Configs as the single source of a command's options (as TRL's ``TrlParser`` builds a CLI from a config).

A command's config is a dataclass whose fields carry their defaults and, in the docstring under each field,
their help text. :func:`command` turns such a class into a Typer command: one option per field (same name
with dashes, same default, that docstring as help), ``--recipe NAME|FILE`` for a YAML file of field values,
and a callback that resolves defaults <- recipe <- the options actually given on the command line into one
config object (:func:`resolve`). Repeatable ``KEY=VALUE`` options fill ``dict`` fields; ``list`` fields
repeat.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from mis.errors import ConfigError, UsageError

MISSING = dataclasses.MISSING


@cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of ``cls`` and its dataclass bases (first paragraph, one line)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def option_name(name: str, annotation: Any) -> str:
    """``--model-arg`` for ``model_args`` (a repeatable KEY=VALUE), else the field name with dashes."""
    if _origin(annotation) is dict and name.endswith("_args"):
        name = name[:-1]
    return "--" + name.replace("_", "-")


def _origin(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _origin(args[0]) if len(args) == 1 else origin
    return origin or annotation


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def defaults(cls: type) -> dict[str, Any]:
    """Field name -> default (fields without one are left out)."""
    return {f.name: d for f in dataclasses.fields(cls) if (d := _default(f)) is not MISSING}


def load_recipe(recipe: str, folder: Path) -> dict[str, Any]:
    """A recipe's field values: a packaged name (``folder/<name>.yaml``) or a YAML file path."""
    import yaml

    path = folder / f"{recipe}.yaml" if "/" not in recipe and not recipe.endswith(".yaml") else Path(recipe)
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none"
        raise UsageError(f"unknown recipe {recipe!r}: not a packaged recipe ({names}) nor a file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of option names to values")
    return data


def resolve(
    cls: type,
    recipe: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    source: str = "recipe",
) -> Any:
    """``cls`` from its defaults, then ``recipe`` values, then ``overrides`` (unknown keys are an error)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for origin, given in ((source, recipe or {}), ("options", overrides or {})):
        unknown = sorted(set(given) - set(fields))
        if unknown:
            raise ConfigError(
                f"{origin}: unknown field(s) {', '.join(unknown)} (valid: {', '.join(sorted(fields))})"
            )
        values.update(given)
    missing = [n for n, f in fields.items() if _default(f) is MISSING and n not in values]
    if missing:
        hints = typing.get_type_hints(cls)
        raise UsageError("missing option(s): " + ", ".join(option_name(n, hints[n]) for n in missing))
    hints = typing.get_type_hints(cls)
    for name in ("out", "responses"):
        if name in values and values[name] is not None and _origin(hints[name]) is Path:
            values[name] = Path(values[name])
    return cls(**values)


def parse_pairs(
    values: list[str], option: str, *, nested: bool = False, typed: bool = True
) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> a dict (values typed with YAML: numbers, booleans); ``nested``: ``A.B=V``."""
    import yaml

    out: dict[str, Any] = {}
    for item in values:
        if "=" not in item:
            raise UsageError(f"{option} expects {'NAME.KEY' if nested else 'KEY'}=VALUE, got {item!r}")
        key, raw = (part.strip() for part in item.split("=", 1))
        value = yaml.safe_load(raw) if typed and raw else raw
        if nested:
            if "." not in key:
                raise UsageError(f"{option} expects NAME.KEY=VALUE, got {item!r}")
            outer, inner = key.split(".", 1)
            out.setdefault(outer, {})[inner] = value
        else:
            out[key] = value
    return out


def _nested(annotation: Any) -> bool:
    """Whether a dict field holds dicts (``--task-arg NAME.KEY=VALUE``)."""
    args = typing.get_args(annotation)
    if not args and _origin(annotation) is not annotation:
        args = next((typing.get_args(a) for a in typing.get_args(annotation) if typing.get_args(a)), ())
    return len(args) == 2 and _origin(args[1]) is dict


def field_panels(cls: type) -> dict[str, str]:
    """Field name -> the help panel it shows in: the first line of the docstring of the class defining it.

    The command's own class comes first ("Data and output"), then its bases in order.
    """
    panels: dict[str, str] = {}
    own = {f for f in getattr(cls, "__annotations__", {})}
    for name in own:
        panels[name] = "Data and output"
    for klass in cls.__mro__[1:]:
        if dataclasses.is_dataclass(klass):
            title = (klass.__doc__ or klass.__name__).strip().splitlines()[0].rstrip(".")
            for name in getattr(klass, "__annotations__", {}):
                panels.setdefault(name, title)
    return panels


def _cli_type(annotation: Any) -> Any:
    origin = _origin(annotation)
    if origin in (dict, list):
        return list[str] | None
    return annotation


def command(
    cls: type,
    run: Callable[[Any], None],
    *,
    positional: tuple[str, ...] = (),
    recipes: Path | None = None,
    hidden: tuple[str, ...] = (),
) -> Callable[..., None]:
    """A Typer command whose options are ``cls``'s fields; it resolves the config and calls ``run``."""
    import typer

    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    panels = field_panels(cls)
    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
    order = list(dict.fromkeys(panels.values()))
    for f in sorted(dataclasses.fields(cls), key=lambda f: order.index(panels[f.name])):
        annotation, default = hints[f.name], _default(f)
        help_text = docs.get(f.name, "")
        origin = _origin(annotation)
        if f.name in positional:
            info = typer.Argument(... if default is MISSING else default, help=help_text, show_default=False)
        else:
            shown = default if default is not MISSING and origin not in (dict, list) else None
            metavar = (
                ("NAME.KEY=VALUE" if _nested(annotation) else "KEY=VALUE")
                if origin is dict
                else ("NAME" if origin is list else None)
            )
            info = typer.Option(
                ... if default is MISSING else shown,
                option_name(f.name, annotation),
                help=help_text,
                hidden=f.name in hidden,
                metavar=metavar,
                rich_help_panel=panels[f.name],
                show_default=shown is not None and not isinstance(shown, bool),
            )
        params.append(
            inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=_cli_type(annotation)
            )
        )
    if recipes is not None:
        params.append(
            inspect.Parameter(
                "recipe",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str | None,
                default=typer.Option(
                    None,
                    "--recipe",
                    help="A packaged recipe name or a YAML file of option values "
                    "(options given here override it).",
                ),
            )
        )

    def callback(ctx: typer.Context, **kwargs: Any) -> None:
        recipe_name = kwargs.pop("recipe", None)
        given: dict[str, Any] = {}
        for name, value in kwargs.items():
            source = ctx.get_parameter_source(name)
            if (source is None or source.name == "DEFAULT") and name not in positional:
                continue
            annotation = hints[name]
            origin = _origin(annotation)
            if origin is dict:
                typed = typing.get_args(annotation)[1] is not str if typing.get_args(annotation) else True
                value = parse_pairs(
                    list(value or []), option_name(name, annotation), nested=_nested(annotation), typed=typed
                )
            elif origin is list:
                value = list(value or [])
            given[name] = value
        recipe = load_recipe(recipe_name, recipes) if recipe_name and recipes is not None else None
        run(resolve(cls, recipe, given, source=f"recipe {recipe_name}"))

    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__annotations__ = {p.name: p.annotation for p in params}  # real types: typer reads these
    callback.__doc__ = (cls.__doc__ or "").strip()
    return callback
