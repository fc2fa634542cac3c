"""Every setting of a repository, in one pydantic-settings model loaded with the repository.

A field's description says what it means; its ``json_schema_extra`` names where it comes from:
``toml`` (the ``runbook.toml`` key, as ``table.key``) and ``env`` (the variables that override
it, first set one winning). A field with ``toml`` only is read from the file only; the
environment never changes it. :func:`settings_table` draws the table the README shows.

Errors are :class:`ConfigError` naming the file and the key (``runbook.toml: review.tags``),
raised from the validators: pydantic lets any exception but ``ValueError`` through unchanged.

This module imports pydantic (~100 ms), so it is imported when a repository is loaded, never
by ``runbook --help``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from runbook.errors import ConfigError, PathEscapeError
from runbook.model.repository import NOTIFY_EVENTS, REPORT_FORMATS, ReviewPolicy, resolve_inside
from runbook.model.retention import RetentionPolicy, parse_retention
from runbook.model.review_rules import ReviewRules, parse_review_rules
from runbook.model.settings_catalog import CATALOG_FIELDS, check_catalog_value

if TYPE_CHECKING:
    from runbook.model.settings_sections import EgressSettings, WorkflowSettings
    from runbook.model.settings_service import ServiceSettings

REVIEW_REQUIREMENTS: Final = ("all", "none", "tagged")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Tables whose type read_config checks up front; ``[egress]`` is read tolerantly, as before.
_CHECKED_TABLES: Final = ("repository", "review", "store", "report", "notify", "kernel", "catalog")


@dataclass(frozen=True)
class _Inputs:
    """What one load reads: the parsed file (``where`` names it in errors) and the variables."""

    root: Path
    where: str
    data: Mapping[str, Any]
    environ: Mapping[str, str]


_LOADING: ContextVar[_Inputs] = ContextVar("runbook_settings_inputs")


@contextmanager
def _loading(inputs: _Inputs) -> Iterator[None]:
    token = _LOADING.set(inputs)
    try:
        yield
    finally:
        _LOADING.reset(token)


def _key(field: FieldInfo, name: str) -> str:
    extra = field.json_schema_extra
    value = extra.get(name, "") if isinstance(extra, dict) else ""
    return value if isinstance(value, str) else ""


def _env_names(field: FieldInfo) -> tuple[str, ...]:
    extra = field.json_schema_extra
    names = extra.get("env", ()) if isinstance(extra, dict) else ()
    return tuple(n for n in names if isinstance(n, str)) if isinstance(names, list | tuple) else ()


class _Source(PydanticBaseSettingsSource):
    """A source that looks each field up by the names in its ``json_schema_extra``."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: :meth:`__call__` reads every field at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """The values this source has, by field name."""
        inputs = _LOADING.get()
        found: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value = self.lookup(inputs, field)
            if value is not None:
                found[name] = value
        return found

    def lookup(self, inputs: _Inputs, field: FieldInfo) -> Any:
        """The field's value in this source, or None."""
        raise NotImplementedError


class _EnvSource(_Source):
    def lookup(self, inputs: _Inputs, field: FieldInfo) -> Any:
        return next((inputs.environ[n] for n in _env_names(field) if inputs.environ.get(n)), None)


class _FileSource(_Source):
    def lookup(self, inputs: _Inputs, field: FieldInfo) -> Any:
        table, _, key = _key(field, "toml").partition(".")
        section = inputs.data.get(table, {})
        if key == "*":  # the whole table, e.g. [retention]
            return section if table in inputs.data else None
        return section.get(key) if key and isinstance(section, dict) else None


class _Settings(BaseSettings):
    """Values from the environment over values from ``runbook.toml`` over the defaults."""

    model_config = SettingsConfigDict(frozen=True, arbitrary_types_allowed=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Our own sources only: no ``.env`` file, no variable read by a field's name."""
        return init_settings, _EnvSource(settings_cls), _FileSource(settings_cls)


def _where(key: str) -> str:
    return f"{_LOADING.get().where}: {key}"


def _folder_name() -> str:
    return _LOADING.get().root.name


def _texts(value: object, where: str, allowed: tuple[str, ...] = ()) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(where, "must be a list of text")
    unknown = [v for v in value if allowed and v not in allowed]
    if unknown:
        raise ConfigError(where, f"{unknown[0]!r} is not one of {', '.join(allowed)}")
    return tuple(value)


def _origin(toml: str, *env: str) -> dict[str, Any]:
    return {"toml": toml, "env": list(env)}


class RepositorySettings(_Settings):
    """The settings of a repository: its ``runbook.toml`` and the variables that override it.

    The fields are declared in the order read_config checked them, so that a file with two
    mistakes reports the same one first.
    """

    retention: RetentionPolicy = Field(
        default_factory=RetentionPolicy,
        description="How long finished runs, workflow runs and playbook runs are kept before "
        '`runbook gc` removes them: `runs`, `workflow_runs`, `playbook_runs` = "90d", "36h", '
        '"2w". Unset: forever.',
        json_schema_extra=_origin("retention.*"),
    )
    review_require: str = Field(
        default="tagged",
        description='Which runbooks need a second person\'s approval: "all", "none", or '
        '"tagged" (those with one of `review.tags`).',
        json_schema_extra=_origin("review.require"),
    )
    review_tags: tuple[str, ...] = Field(
        default=("critical",),
        description="The runbook tags that need an approval when `review.require` is tagged.",
        json_schema_extra=_origin("review.tags"),
    )
    review_signed: bool = Field(
        default=False,
        description="Verdicts must be signed with an SSH key listed in "
        "`review.allowed_signers` (`ssh-keygen -Y`); the key's principal is the reviewer.",
        json_schema_extra=_origin("review.signed"),
    )
    review_allowed_signers: Path = Field(
        default=Path("allowed_signers"),
        validate_default=True,
        description="Who may review: an OpenSSH allowed_signers file inside the repository "
        "(committed, so changes to it are reviewed in git).",
        json_schema_extra=_origin("review.allowed_signers"),
    )
    review_rules: ReviewRules = Field(
        default_factory=ReviewRules,
        description="How many distinct approvals a plan needs and from whom: "
        "`review.approvals` (default 1) from `review.reviewers` (names or `@group`; empty: "
        "anyone but the planner), groups in `[review.groups]`, and per runbook tag "
        "`[review.tag.<tag>]` with its own `approvals` and `reviewers`. A rejection vetoes "
        "until its reviewer withdraws it.",
        json_schema_extra=_origin("review.*"),
    )
    kernel_user: str = Field(
        default="",
        description="The OS user kernels run as (needs root); empty for the runbook's own user.",
        json_schema_extra=_origin("kernel.user"),
    )
    name: str = Field(
        default_factory=_folder_name,
        description="The repository's name; default: its folder's name.",
        json_schema_extra=_origin("repository.name"),
    )
    store_url: str = Field(
        default="",
        description="SQLAlchemy URL of the store; empty for SQLite in `.runbook/runbook.db`. "
        "A `{}` in it is replaced by the password in RUNBOOK_DB_PASSWORD (or "
        "RUNBOOK_DB_PASSWORD_FILE, or that secret file; alias AUTOFLOW_DB_PASSWORD).",
        json_schema_extra=_origin("store.url", "RUNBOOK_DB_URL", "AUTOFLOW_DB_URI"),
    )
    report_formats: tuple[str, ...] = Field(
        default=("html",),
        description='Reports written to runs/<run>/ after every run: any of "html", "md", '
        '"pdf" (PDF needs Chromium); [] for none.',
        json_schema_extra=_origin("report.formats"),
    )
    notify_urls: tuple[str, ...] = Field(
        default=(),
        description='Apprise URLs told about runs ("slack://…" or "secret:SLACK_WEBHOOK").',
        json_schema_extra=_origin("notify.urls"),
    )
    notify_events: tuple[str, ...] = Field(
        default=NOTIFY_EVENTS,
        description="The run events notified: " + ", ".join(NOTIFY_EVENTS) + ".",
        json_schema_extra=_origin("notify.on"),
    )
    catalog_base_url: str = Field(
        default="",
        description="The service's URL: `runbook_url` is <base_url>/catalog/<service>/<code>.",
        json_schema_extra=_origin("catalog.base_url"),
    )
    catalog_code_label: str = Field(
        default="error_code",
        description="The alert label that names the error code (before runbook_url and alertname).",
        json_schema_extra=_origin("catalog.code_label"),
    )
    catalog_cooldown: int = Field(
        default=300,
        description="Seconds after an automated run for a (service, code) before another.",
        json_schema_extra=_origin("catalog.cooldown_seconds"),
    )
    catalog_rate_limit: int = Field(
        default=10,
        description="Automated runs per service per hour, at most.",
        json_schema_extra=_origin("catalog.runs_per_hour"),
    )
    catalog_sources: dict[str, Any] = Field(  # name → AlertSource
        default={},
        description="`[catalog.sources.NAME]`: who may POST /alerts/KIND/NAME: `kind`, `auth` "
        "(bearer, hmac), `secret_env` (a RUNBOOK_ALERT_* variable, e.g. RUNBOOK_ALERT_PROD) or "
        "`secret`. README: Alerts in.",
        json_schema_extra=_origin("catalog.sources"),
    )
    _workflows: dict[str, Any] = PrivateAttr(default_factory=dict)
    _egress: dict[str, Any] = PrivateAttr(default_factory=dict)
    _service: dict[str, Any] = PrivateAttr(default_factory=dict)
    _environ: Mapping[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("retention", mode="before")
    @classmethod
    def _retention(cls, value: object) -> object:
        if isinstance(value, RetentionPolicy):
            return value
        return parse_retention(value if isinstance(value, dict) else {}, _where("retention"))

    @field_validator("review_require", mode="before")
    @classmethod
    def _require(cls, value: object) -> object:
        if value not in REVIEW_REQUIREMENTS:
            raise ConfigError(
                _where("review.require"), f"{value!r} is not one of 'all', 'none', 'tagged'"
            )
        return value

    @field_validator("review_signed", mode="before")
    @classmethod
    def _signed(cls, value: object) -> object:
        if not isinstance(value, bool):
            raise ConfigError(_where("review.signed"), "must be true or false")
        return value

    @field_validator("review_allowed_signers", mode="before")
    @classmethod
    def _signers(cls, value: object) -> object:
        if not isinstance(value, str | Path) or not str(value).strip() or "\x00" in str(value):
            raise ConfigError(_where("review.allowed_signers"), "must be a path")
        try:
            return resolve_inside(_LOADING.get().root, str(value))
        except PathEscapeError:
            raise ConfigError(
                _where("review.allowed_signers"), f"{value}: must be inside the repository"
            ) from None

    @field_validator("review_rules", mode="before")
    @classmethod
    def _rules(cls, value: object) -> object:
        if isinstance(value, ReviewRules):
            return value
        return parse_review_rules(value if isinstance(value, dict) else {}, _LOADING.get().where)

    @field_validator(*CATALOG_FIELDS, mode="before")
    @classmethod
    def _catalog(cls, value: object, info: ValidationInfo) -> object:
        return check_catalog_value(info.field_name or "", value, _where("catalog"))

    @field_validator("kernel_user", mode="before")
    @classmethod
    def _kernel_user(cls, value: object) -> object:
        if not isinstance(value, str) or "\x00" in value:
            raise ConfigError(_where("kernel.user"), "must be the name of a user")
        return value.strip()

    @field_validator("name", "store_url", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ConfigError(_LOADING.get().where, "repository.name and store.url must be text")
        return value

    @field_validator("review_tags", "report_formats", "notify_urls", "notify_events", mode="before")
    @classmethod
    def _lists(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, tuple):
            return value
        key = {"report_formats": "report.formats", "notify_urls": "notify.urls"}
        key["review_tags"] = "review.tags"
        allowed = {"report_formats": REPORT_FORMATS, "notify_events": NOTIFY_EVENTS}
        name = info.field_name or ""
        return _texts(value, _where(key.get(name, "notify.on")), allowed.get(name, ()))

    @property
    def review(self) -> ReviewPolicy:
        """Which runbooks need an approval (``review.require`` and ``review.tags``)."""
        return ReviewPolicy(
            require=self.review_require,  # type: ignore[arg-type]
            tags=self.review_tags,
            signed=self.review_signed,
            allowed_signers=self.review_allowed_signers,
            rules=self.review_rules,
        )

    def workflows(self, root: Path) -> WorkflowSettings:
        """The ``[workflows]`` settings of the repository at ``root``, with the variables as
        they are now (a scheduler reads them each time it starts a workflow run)."""
        from runbook.model.settings_sections import load_workflow_settings

        return load_workflow_settings(root, self._workflows, self._environ)

    def egress(self) -> EgressSettings:
        """The ``[egress]`` settings, with the variables as they are now."""
        from runbook.model.settings_sections import load_egress_settings

        return load_egress_settings(self._egress, self._environ)

    def service(self, root: Path) -> ServiceSettings:
        """The ``[service]`` settings of the repository at ``root`` (``runbook serve``)."""
        from runbook.model.settings_service import load_service_settings

        return load_service_settings(root, self._service, self._environ)


def _tables(data: Mapping[str, object], where: str) -> None:
    for key in _CHECKED_TABLES:
        if not isinstance(data.get(key, {}), dict):
            raise ConfigError(f"{where}: {key}", "must be a table")
    if not isinstance(data.get("retention", {}), dict):
        raise ConfigError(f"{where}: retention", "must be a table")


def load_settings(
    path: Path, data: Mapping[str, Any], environ: Mapping[str, str]
) -> RepositorySettings:
    """The settings of the repository whose parsed ``runbook.toml`` (at ``path``) is ``data``.

    ``[workflows]`` and ``[egress]`` are kept as read and checked when they are asked for
    (:meth:`RepositorySettings.workflows`, :meth:`RepositorySettings.egress`), so a mistake
    in ``[workflows]`` stops workflow commands only, as it always did. ``environ`` is read
    again then: pass a live mapping (:func:`runbook.credentials.environment`).
    """
    where = str(path)
    _tables(data, where)
    with _loading(_Inputs(root=path.parent, where=where, data=data, environ=environ)):
        settings = RepositorySettings()
    workflows, egress = data.get("workflows", {}), data.get("egress", {})
    settings._workflows = dict(workflows) if isinstance(workflows, dict) else {}
    settings._egress = dict(egress) if isinstance(egress, dict) else {}
    service = data.get("service", {})
    if not isinstance(service, dict):
        raise ConfigError(f"{where}: service", "must be a table")
    settings._service = dict(service)
    settings._environ = environ
    return settings
