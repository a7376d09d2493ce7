// The shell's Python model layer: a class per declared model, generated at start from the
// catalog (through `_dq_shell`), plus Scope, Operation and the console. Kept in Python because it
// is Python objects all the way down; every database access goes through `_dq_shell`.
#include "cli/shell/model_bridge.h"

namespace dq::cli::shell {

const char* const kModelsPython = R"PY(
import datetime as _dt
import enum as _enum
import json as _json
import os as _os
import sys as _sys
import traceback as _traceback

import _dq_shell as _core

Error = _core.Error
_HERE = "<dataquality shell>"


class Scope(str, _enum.Enum):
    """Scope of a rule, stored as its name."""
    OWN = "OWN"
    ORGANIZATION = "ORGANIZATION"
    COLLABORATION = "COLLABORATION"
    GLOBAL = "GLOBAL"

    def __str__(self):
        return self.value


class Operation(str, _enum.Enum):
    """Operation of a rule, stored as its name."""
    VIEW = "VIEW"
    EDIT = "EDIT"
    CREATE = "CREATE"
    DELETE = "DELETE"
    SEND = "SEND"
    RECEIVE = "RECEIVE"

    def __str__(self):
        return self.value


# Names vantage6's shell uses where they are not the PascalCase of the model name.
_VANTAGE6_NAMES = {"algorithmport": "AlgorithmPort", "nodeconfig": "NodeConfig"}
# Credentials that must never be stored as given, whatever the declaring plugin says.
_CREDENTIALS = {"password", "api_key"}
_MASK = "********"


def class_name(model):
    return "".join(part[:1].upper() + part[1:] for part in model.split("_"))


def _to_python(kind, value):
    if value is None:
        return None
    if kind == "DateTime" and isinstance(value, str):
        try:
            return _dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if kind == "Boolean" and isinstance(value, int):
        return bool(value)
    return value


def _to_store(cls, field, value):
    name, kind = field["name"], field["type"]
    where = "%s.%s" % (cls.__name__, name)
    if value is None:
        return None
    if isinstance(value, _enum.Enum):
        value = value.value
    if kind == "DateTime":
        if isinstance(value, _dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
            return value.isoformat()
        if isinstance(value, _dt.date):
            return _dt.datetime(value.year, value.month, value.day).isoformat()
        if isinstance(value, str):
            return value
        raise TypeError("%s takes a datetime or ISO 8601 text, not %s" % (where, type(value).__name__))
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise TypeError("%s takes True or False, not %r" % (where, value))
    if kind == "Integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError("%s takes an int, not %r" % (where, value))
    if kind == "Real":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise TypeError("%s takes a number, not %r" % (where, value))
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    # vantage6's shell takes a dict as a result's input (`db.Result(input={...})`): stored as the
    # JSON text the API would show.
    if isinstance(value, (dict, list)):
        try:
            return _json.dumps(value)
        except (TypeError, ValueError) as e:
            raise TypeError("%s takes text, or a dict or list that is JSON: %s" % (where, e)) from None
    raise TypeError("%s takes text, not %s" % (where, type(value).__name__))


class Model:
    """A row of a declared model. Subclasses are generated per model: db.Organization, db.User, ..."""

    _meta = None

    def __init__(self, **values):
        self._reset(None, {})
        for name, value in values.items():
            setattr(self, name, value)

    def _reset(self, id, values):
        object.__setattr__(self, "_id", id)
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_dirty", {})
        object.__setattr__(self, "_lists", {})

    @classmethod
    def _from_row(cls, row):
        obj = cls.__new__(cls)
        row = dict(row)
        obj._reset(row.pop("id"), row)
        return obj

    @property
    def id(self):
        return self._id

    def _column(self, column):
        if column in self._dirty:
            value = self._dirty[column]
            return value.id if isinstance(value, Model) else value
        return self._values.get(column)

    def __dir__(self):
        meta = type(self)._meta
        names = set(object.__dir__(self))
        for group in ("fields", "to_one", "columns", "to_many", "many"):
            names.update(meta[group])
        return sorted(n for n in names if not n.startswith("_"))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        meta = type(self)._meta
        if name in meta["fields"]:
            field = meta["fields"][name]
            value = self._column(name)
            if field["secret"]:
                return None if value is None else _MASK
            return _to_python(field["type"], value)
        if name in meta["to_one"]:
            relation = meta["to_one"][name]
            pending = self._dirty.get(relation["column"])
            if isinstance(pending, Model):
                return pending
            fk = self._column(relation["column"])
            return None if fk is None else _classes[relation["target"]].get(fk)
        if name in meta["columns"]:
            return self._column(name)
        if name in meta["to_many"]:
            relation = meta["to_many"][name]
            if self._id is None:
                return []
            return _classes[relation["target"]]._select([(relation["column"], self._id)])
        if name in meta["many"]:
            if name not in self._lists:
                ids = _core.associated(meta["name"], self._id, name) if self._id is not None else []
                target = _classes[meta["many"][name]["target"]]
                self._lists[name] = [o for o in (target.get(i) for i in ids) if o is not None]
            return self._lists[name]
        raise AttributeError("%s has no attribute '%s'; see db.%s.help() for its fields and relations"
                             % (type(self).__name__, name, type(self).__name__))

    def __setattr__(self, name, value):
        cls = type(self)
        meta = cls._meta
        if name in meta["fields"]:
            field = meta["fields"][name]
            if field["secret"] and value is not None and (field["writer"] or name in _CREDENTIALS):
                if not isinstance(value, str) or not value:
                    raise TypeError("%s.%s takes non-empty text" % (cls.__name__, name))
                self._dirty.update(_core.write_secret(meta["name"], name, value))
            else:
                self._dirty[name] = _to_store(cls, field, value)
        elif name in meta["to_one"]:
            relation = meta["to_one"][name]
            target = _classes[relation["target"]]
            if value is not None and not isinstance(value, target):
                raise TypeError("%s.%s takes a db.%s (or None), not %r"
                                % (cls.__name__, name, target.__name__, value))
            self._dirty[relation["column"]] = value
        elif name in meta["columns"]:
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise TypeError("%s.%s takes an id (int) or None, not %r" % (cls.__name__, name, value))
            self._dirty[name] = value
        elif name in meta["many"]:
            target = _classes[meta["many"][name]["target"]]
            items = list(value or [])
            for item in items:
                if not isinstance(item, target):
                    raise TypeError("%s.%s holds db.%s objects, not %r"
                                    % (cls.__name__, name, target.__name__, item))
            self._lists[name] = items
        elif name in meta["to_many"]:
            relation = meta["to_many"][name]
            back = _classes[relation["target"]]._meta["by_column"].get(relation["column"], relation["column"])
            raise Error("%s.%s lists the %s rows that point here: set %s on each of them instead"
                        % (cls.__name__, name, relation["target"], back))
        elif name == "id":
            raise AttributeError("the id is given by the database on the first save()")
        else:
            raise AttributeError("%s has no attribute '%s'; see db.%s.help() for its fields and relations"
                                 % (cls.__name__, name, cls.__name__))

    def save(self):
        """Inserts or updates this row (and its many-to-many lists) in one transaction."""
        meta = type(self)._meta
        values = {}
        for column, value in self._dirty.items():
            if isinstance(value, Model):
                if value.id is None:
                    raise Error("save the %s %r before saving this %s" % (value._meta["name"], value, meta["name"]))
                value = value.id
            values[column] = value
        associations = {}
        for name, items in self._lists.items():
            for item in items:
                if item.id is None:
                    raise Error("save the %s %r before saving %s.%s" % (item._meta["name"], item, meta["name"], name))
            associations[name] = [item.id for item in items]
        new_id = _core.save(meta["name"], self._id, values, associations)
        row = _core.find(meta["name"], new_id) or {"id": new_id}
        lists = list(self._lists)
        self._reset(row.pop("id"), row)
        for name in lists:
            getattr(self, name)

    def delete(self):
        """Deletes this row (relations follow their declared on-delete rules)."""
        if self._id is None:
            raise Error("this %s was never saved" % type(self)._meta["name"])
        _core.remove(type(self)._meta["name"], self._id)
        object.__setattr__(self, "_id", None)

    def refresh(self):
        """Re-reads this row, dropping unsaved changes."""
        if self._id is None:
            return
        row = _core.find(type(self)._meta["name"], self._id)
        if row is None:
            raise Error("%s %d no longer exists" % (type(self)._meta["name"], self._id))
        self._reset(row.pop("id"), row)

    @classmethod
    def _select(cls, where):
        return [cls._from_row(row) for row in _core.select(cls._meta["name"], where)]

    @classmethod
    def get(cls, id=None):
        """All rows, or the row with this id (None if there is none)."""
        if id is None:
            return cls._select([])
        if not isinstance(id, int) or isinstance(id, bool):
            raise TypeError("%s.get takes an id (int), not %r" % (cls.__name__, id))
        row = _core.find(cls._meta["name"], id)
        return None if row is None else cls._from_row(row)

    @classmethod
    def _first(cls, **where):
        rows = cls._select([(k, getattr(v, "value", v)) for k, v in where.items()])
        return rows[0] if rows else None

    @classmethod
    def help(cls):
        """Prints the fields and relations of this model."""
        meta = cls._meta
        lines = ["db.%s: the '%s' model of the %s plugin" % (cls.__name__, meta["name"], meta["plugin"])]
        if meta["description"]:
            lines.append("  " + meta["description"])
        lines.append("fields:")
        lines.append("  %-22s %-9s" % ("id", "Integer") + "  given by the database")
        for field in meta["fields"].values():
            notes = []
            if not field["nullable"]:
                notes.append("required")
            if field["unique"]:
                notes.append("unique")
            if field["secret"]:
                notes.append("write-only" + (", stored hashed" if field["writer"] else ""))
            if field["default"] is not None:
                notes.append("default %r" % (field["default"],))
            text = ", ".join(notes)
            if field["description"]:
                text = (text + "; " if text else "") + field["description"]
            lines.append(("  %-22s %-9s  %s" % (field["name"], field["type"], text)).rstrip())
        lines.append("relations:")
        for name, relation in meta["to_one"].items():
            lines.append("  %-22s db.%s (column %s)" % (name, _classes[relation["target"]].__name__, relation["column"]))
        for name, relation in meta["to_many"].items():
            lines.append("  %-22s list of db.%s" % (name, _classes[relation["target"]].__name__))
        for name, relation in meta["many"].items():
            lines.append("  %-22s list of db.%s (append, then save())" % (name, _classes[relation["target"]].__name__))
        methods = ["get()", "get(id)"]
        methods += [m for m in ("get_by_name(name)", "get_by_username(username)",
                                "get_by_(name, scope, operation)", "next_run_id()")
                    if hasattr(cls, m.split("(")[0])]
        lines.append("methods: " + ", ".join(methods) + "; on a row: save(), delete(), refresh()")
        print("\n".join(lines))

    def __repr__(self):
        meta = type(self)._meta
        parts = ["id=%r" % (self._id,)]
        for key in ("name", "username", "image", "status"):
            if key in meta["fields"] and self._column(key) is not None:
                parts.append("%s=%r" % (key, self._column(key)))
        return "<%s %s>" % (type(self).__name__, " ".join(parts))

    def __eq__(self, other):
        if self is other:
            return True
        return (isinstance(other, Model) and type(other)._meta["name"] == type(self)._meta["name"]
                and self._id is not None and self._id == other._id)

    def __hash__(self):
        return hash((type(self)._meta["name"], self._id)) if self._id is not None else id(self)


# Model-specific helpers, attached when the model exists.

def _get_by_name(cls, name):
    """The first row with this name, or None."""
    return cls._first(name=name)


def _get_by_username(cls, username):
    """The user with this username, or None."""
    return cls._first(username=username)


def _get_by_(cls, name, scope, operation):
    """The rule for resource `name` with this scope and operation (Scope/Operation or their names)."""
    return cls._first(name=name, scope=Scope(getattr(scope, "value", scope).upper()).value,
                      operation=Operation(getattr(operation, "value", operation).upper()).value)


def _next_run_id(cls):
    """The run_id the next task gets: one more than the highest."""
    rows = _core.query("SELECT MAX(run_id) FROM task")
    highest = rows[0][0] if rows and rows[0] else None
    return 1 if highest is None else int(highest) + 1


def _complete(self):
    """True when the result has finished (finished_at is set)."""
    return self._column("finished_at") is not None


_classes = {}


class _Db:
    """The models declared by the loaded plugins: db.<Model>; db.Error is what failures raise."""

    Error = Error
    Scope = Scope
    Operation = Operation

    def __repr__(self):
        return "<db: %s>" % ", ".join(sorted({c.__name__ for c in _classes.values()}))

    def help(self):
        print("Models (db.<Model>.help() for fields and relations):")
        for name in sorted(_classes):
            cls = _classes[name]
            print("  db.%-16s %s" % (cls.__name__, cls._meta["description"]))


db = _Db()


def build():
    """Generates db.<Model> for every model in the catalog."""
    for model in _core.models():
        meta = {
            "name": model["name"], "plugin": model["plugin"], "description": model["description"],
            "fields": {f["name"]: f for f in model["fields"]},
            "to_one": {}, "to_many": {}, "many": {}, "columns": {}, "by_column": {},
        }
        for relation in model["relations"]:
            kind = relation["kind"]
            if kind == "to_one":
                meta["to_one"][relation["name"]] = relation
                meta["columns"][relation["column"]] = relation
                meta["by_column"][relation["column"]] = relation["name"]
            elif kind == "to_many":
                meta["to_many"][relation["name"]] = relation
            else:
                meta["many"][relation["name"]] = relation
        attributes = {"_meta": meta, "__doc__": model["description"] or ("The %s model." % model["name"])}
        if "name" in meta["fields"]:
            attributes["get_by_name"] = classmethod(_get_by_name)
        if "username" in meta["fields"]:
            attributes["get_by_username"] = classmethod(_get_by_username)
            attributes["getByUsername"] = classmethod(_get_by_username)
        if model["name"] == "rule":
            attributes["get_by_"] = classmethod(_get_by_)
        if model["name"] == "task" and "run_id" in meta["fields"]:
            attributes["next_run_id"] = classmethod(_next_run_id)
        if "finished_at" in meta["fields"]:
            attributes["complete"] = property(_complete)
        cls = type(class_name(model["name"]), (Model,), attributes)
        cls.__module__ = "db"
        _classes[model["name"]] = cls
        setattr(db, cls.__name__, cls)
        alias = _VANTAGE6_NAMES.get(model["name"])
        if alias and alias != cls.__name__:
            setattr(db, alias, cls)
    return sorted(cls.__name__ for cls in _classes.values())


def namespace():
    return {"__name__": "__main__", "__builtins__": __builtins__, "db": db,
            "Scope": Scope, "Operation": Operation}


def _print_exception(error):
    """The traceback without the shell's own frames: the operator's statement and the message."""
    frames = [f for f in _traceback.extract_tb(error.__traceback__) if f.filename != _HERE]
    if frames:
        print("Traceback (most recent call last):", file=_sys.stderr)
        print("".join(_traceback.format_list(frames)), end="", file=_sys.stderr)
    print("".join(_traceback.format_exception_only(type(error), error)), end="", file=_sys.stderr)


def run_script(source, filename, scope):
    """Runs a whole script; the first uncaught exception stops it (exit status 1)."""
    try:
        exec(compile(source, filename, "exec"), scope)
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        print(stop.code, file=_sys.stderr)
        return 1
    except BaseException as error:
        error.__traceback__ = error.__traceback__.tb_next if error.__traceback__ else None
        _print_exception(error)
        return 1
    finally:
        _sys.stdout.flush()
        _sys.stderr.flush()
    return 0


def interact(banner, history, scope):
    """The prompt: line editing, completion and history when readline is there."""
    import code
    try:
        import readline
        import rlcompleter
        readline.set_completer(rlcompleter.Completer(scope).complete)
        readline.parse_and_bind("tab: complete")
        readline.set_history_length(2000)
        try:
            readline.read_history_file(history)
        except OSError:
            pass
    except ImportError:
        readline = None

    class Console(code.InteractiveConsole):
        def showtraceback(self):
            error = _sys.exc_info()[1]
            error.__traceback__ = error.__traceback__.tb_next if error.__traceback__ else None
            _print_exception(error)

    status = 0
    try:
        Console(scope).interact(banner=banner, exitmsg="")
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 0
    finally:
        if readline is not None:
            try:
                _os.makedirs(_os.path.dirname(history), exist_ok=True)
                readline.write_history_file(history)
            except OSError as error:
                print("(history not saved to %s: %s)" % (history, error), file=_sys.stderr)
    return status
)PY";

} // namespace dq::cli::shell
