"""Configs as the single source of a command's options (as TRL's ``TrlParser`` builds a CLI from a config).

A command's config is a dataclass whose fields carry their defaults and, in the docstring under each field
(or TRL-style in ``metadata={"help": ...}``), their help text. :func:`command` turns such a class into a Typer
command: one option per field (same name with dashes, same default, that help), ``--recipe NAME|FILE`` for
a YAML file of field values, and a callback that resolves defaults <- recipe <- the options actually given
on the command line into one config object (:func:`resolve`, or the command's own resolver). Repeatable
``KEY=VALUE`` options fill ``dict`` fields; ``list`` fields repeat; a nested dataclass field ``t2i`` gives
one ``--t2i-<name>`` option per field of its own; a ``dict`` of dataclasses takes ``NAME.KEY=VALUE``.

Field metadata may set ``option`` (the option's name, e.g. ``--split`` for ``splits``) and ``panel`` (the
help panel it shows in).
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
    """Each field's help: the docstring under it (in ``cls`` or a dataclass base), else its metadata help."""
    docs: dict[str, str] = {
        f.name: " ".join(str(f.metadata["help"]).split())
        for f in dataclasses.fields(cls)
        if "help" in f.metadata
    }
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
                docs[node.target.id] = " ".join(nxt.value.value.split()).replace("``", "`")
    return docs


def option_name(name: str, annotation: Any, metadata: Mapping[str, Any] | None = None) -> str:
    """The option of a field: ``metadata["option"]`` if set, else the name with dashes.

    A ``dict`` field named ``*_args`` is a repeatable ``KEY=VALUE`` option in the singular (``--model-arg``).
    """
    if metadata and "option" in metadata:
        return str(metadata["option"])
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
    """Whether a dict field holds dicts or dataclasses (``--task-arg NAME.KEY=VALUE``)."""
    args = typing.get_args(annotation)
    if not args and _origin(annotation) is not annotation:
        args = next((typing.get_args(a) for a in typing.get_args(annotation) if typing.get_args(a)), ())
    return len(args) == 2 and (_origin(args[1]) is dict or dataclasses.is_dataclass(args[1]))


def _sub_config(annotation: Any) -> type | None:
    """The dataclass a field holds itself (``t2i: T2IConfig``), else None."""
    target = _origin(annotation)
    return target if isinstance(target, type) and dataclasses.is_dataclass(target) else None


#: How a nested field's sub-option is named among the callback's parameters (``t2i`` + ``steps``).
_SEP = "__"


def field_panels(cls: type) -> dict[str, str]:
    """Field name -> the help panel it shows in: the first line of the docstring of the class defining it.

    The command's own class comes first ("Data and output"), then its bases in order.
    """
    panels: dict[str, str] = {
        f.name: str(f.metadata["panel"]) for f in dataclasses.fields(cls) if "panel" in f.metadata
    }
    own = {f for f in getattr(cls, "__annotations__", {})}
    for name in own:
        panels.setdefault(name, "Data and output")
    for klass in cls.__mro__[1:]:
        if dataclasses.is_dataclass(klass):
            title = _title(klass)
            for name in getattr(klass, "__annotations__", {}):
                panels.setdefault(name, title)
    return panels


def _title(klass: type) -> str:
    return (klass.__doc__ or klass.__name__).strip().splitlines()[0].rstrip(".")


def _cli_type(annotation: Any) -> Any:
    origin = _origin(annotation)
    if origin in (dict, list):
        return list[str] | None
    return annotation


def _option(
    name: str,
    annotation: Any,
    default: Any,
    help_text: str,
    panel: str,
    *,
    hidden: bool,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    import typer

    origin = _origin(annotation)
    shown = default if default is not MISSING and origin not in (dict, list) else None
    metavar = (metadata or {}).get("metavar") or (
        ("NAME.KEY=VALUE" if _nested(annotation) else "KEY=VALUE")
        if origin is dict
        else ("NAME" if origin is list else None)
    )
    names = option_name(name, annotation, metadata)
    if origin is bool and "/" not in names:
        names = f"{names}/--no-{names[2:]}"  # a recipe's True can be turned off on the command line
    return typer.Option(
        ... if default is MISSING else shown,
        names,
        help=help_text,
        hidden=hidden,
        metavar=metavar,
        rich_help_panel=panel,
        show_default=shown is not None and not isinstance(shown, bool),
    )


def _given_value(name: str, annotation: Any, value: Any, metadata: Mapping[str, Any] | None) -> Any:
    """A command-line value in the config's shape: ``KEY=VALUE`` lists -> dicts, lists as lists."""
    origin = _origin(annotation)
    if origin is dict:
        args = typing.get_args(_strip_none(annotation))
        typed = args[1] is not str if args else True
        return parse_pairs(
            list(value or []),
            option_name(name, annotation, metadata),
            nested=_nested(annotation),
            typed=typed,
        )
    if origin is list:
        return list(value or [])
    return value


def _strip_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def extra(name: str, annotation: Any, option: Any) -> inspect.Parameter:
    """An option of a generated command that is not a config field (``--print-launch``)."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=option)


def command(
    cls: type,
    run: Callable[..., None],
    *,
    positional: tuple[str, ...] = (),
    recipes: Path | None = None,
    hidden: tuple[str, ...] = (),
    resolver: Callable[[str | None, dict[str, Any]], Any] | None = None,
    recipe_option: str = "--recipe",
    recipe_help: str = "A packaged recipe name or a YAML file of option values (options given override it).",
    extras: tuple[inspect.Parameter, ...] = (),
) -> Callable[..., None]:
    """A Typer command whose options are ``cls``'s fields; it resolves the config and calls ``run``.

    ``resolver(recipe, given)`` replaces the default resolution (:func:`load_recipe` from ``recipes`` +
    :func:`resolve`); either one adds the ``recipe_option``, which also fills a field named ``recipe``.
    ``extras`` are options that are not config fields (``--print-launch``); ``run(config, **extras)``.
    A group callback (``mis train``) does nothing when a subcommand is invoked.
    """
    import typer

    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    panels = field_panels(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    with_recipe = recipes is not None or resolver is not None
    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
    nested: dict[str, tuple[str, str, Any, Mapping[str, Any]]] = {}  # param -> (field, sub-field, type, meta)
    order = list(dict.fromkeys(panels.values()))
    for f in sorted(fields.values(), key=lambda f: order.index(panels[f.name])):
        if with_recipe and f.name == "recipe":
            continue  # the recipe option fills it
        annotation, default = hints[f.name], _default(f)
        help_text = docs.get(f.name, "")
        sub = _sub_config(annotation)
        if sub is not None:
            sub_hints, sub_docs = typing.get_type_hints(sub), field_docs(sub)
            for g in dataclasses.fields(sub):
                param = f"{f.name}{_SEP}{g.name}"
                nested[param] = (f.name, g.name, sub_hints[g.name], g.metadata)
                info = _option(
                    f"{f.name}_{g.name}",
                    sub_hints[g.name],
                    _default(g),
                    sub_docs.get(g.name, ""),
                    _title(sub),
                    hidden=f.name in hidden,
                    metadata=g.metadata,
                )
                params.append(
                    inspect.Parameter(
                        param,
                        inspect.Parameter.KEYWORD_ONLY,
                        default=info,
                        annotation=_cli_type(sub_hints[g.name]),
                    )
                )
            continue
        if f.name in positional:
            info = typer.Argument(... if default is MISSING else default, help=help_text, show_default=False)
        else:
            info = _option(
                f.name,
                annotation,
                default,
                help_text,
                panels[f.name],
                hidden=f.name in hidden,
                metadata=f.metadata,
            )
        params.append(
            inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=_cli_type(annotation)
            )
        )
    if with_recipe:
        params.append(
            inspect.Parameter(
                "recipe",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str | None,
                default=typer.Option(None, recipe_option, help=recipe_help),
            )
        )
    extra_names = {p.name for p in extras}
    params.extend(extras)

    def resolve_given(recipe_name: str | None, given: dict[str, Any]) -> Any:
        if resolver is not None:
            return resolver(recipe_name, given)
        recipe = load_recipe(recipe_name, recipes) if recipe_name and recipes is not None else None
        return resolve(cls, recipe, given, source=f"recipe {recipe_name}")

    def callback(ctx: typer.Context, **kwargs: Any) -> None:
        if getattr(ctx, "invoked_subcommand", None):
            return
        recipe_name = kwargs.pop("recipe", None)
        extra_values = {name: kwargs.pop(name) for name in extra_names}
        given: dict[str, Any] = {}
        for name, value in kwargs.items():
            source = ctx.get_parameter_source(name)
            if (source is None or source.name == "DEFAULT") and name not in positional:
                continue
            if name in nested:
                outer, inner, annotation, metadata = nested[name]
                given.setdefault(outer, {})[inner] = _given_value(inner, annotation, value, metadata)
            else:
                given[name] = _given_value(name, hints[name], value, fields[name].metadata)
        run(resolve_given(recipe_name, given), **extra_values)

    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__annotations__ = {p.name: p.annotation for p in params}  # real types: typer reads these
    callback.__doc__ = (cls.__doc__ or "").strip()
    return callback
