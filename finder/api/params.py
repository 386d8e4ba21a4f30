"""Query parameters declared once: the same declaration parses a request and documents it."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from finder.api.errors import ApiError

#: No parameter needs more: a longer value is a mistake or an attack, never a search.
MAX_TEXT_LENGTH = 200
#: What every text parameter may hold: no control characters (refused by ``Param.parse``).
NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001f]*$"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

Bound = float | int | Callable[[], float | int] | None


def _resolve(bound: Bound) -> float | int | None:
    return bound() if callable(bound) else bound


@dataclass(frozen=True)
class Param:
    """One query parameter: its JSON type, limits and documentation."""

    name: str
    type: str  # "string", "number", "integer" or "boolean"
    description: str
    default: Any = None
    minimum: Bound = None
    maximum: Bound = None
    #: True: the minimum itself is refused (radius must be above 0).
    exclusive_minimum: bool = False
    max_length: int = MAX_TEXT_LENGTH
    #: Documented as repeatable (``service=BU&service=NU``); parsed by the caller.
    repeated: bool = False
    required: bool = False
    example: Any = None
    #: True: control characters are cleaned out (as the place search does with what visitors
    #: type), so the document does not forbid them. False: they are refused.
    cleans_control_characters: bool = False

    def parse(self, args: Mapping) -> Any:
        """The typed value, the default when absent; ``ApiError`` naming this parameter if bad."""
        raw = args.get(self.name)
        if raw is None or (raw.strip() == "" and self.type != "string"):
            if self.required:
                raise ApiError(f"{self.name} is required.", parameter=self.name)
            return self.default
        return self._convert(raw)

    def _convert(self, raw: str) -> Any:
        if len(raw) > self.max_length:
            raise ApiError(
                f"{self.name} is too long (at most {self.max_length} characters).",
                parameter=self.name,
            )
        if self.cleans_control_characters:
            raw = "".join(char if ord(char) >= 32 else " " for char in raw)
        elif any(ord(char) < 32 for char in raw):
            # No parameter holds control characters; PostgreSQL refuses NUL in any string.
            raise ApiError(f"{self.name} contains control characters.", parameter=self.name)
        text = raw.strip()
        if self.type == "boolean":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ApiError(f"{self.name} must be true or false.", parameter=self.name)
        if self.type == "string":
            return text
        return self._check_range(self._number(text))

    def _number(self, text: str) -> float | int:
        kind = "an integer" if self.type == "integer" else "a number"
        try:
            value = int(text) if self.type == "integer" else float(text)
        except ValueError:
            raise ApiError(f"{self.name} must be {kind}.", parameter=self.name) from None
        if not math.isfinite(value):
            raise ApiError(f"{self.name} must be {kind}.", parameter=self.name)
        return value

    def _check_range(self, value: float | int) -> float | int:
        low, high = _resolve(self.minimum), _resolve(self.maximum)
        too_low = low is not None and (value <= low if self.exclusive_minimum else value < low)
        if too_low or (high is not None and value > high):
            raise ApiError(f"{self.name} must be {self.range_text()}.", parameter=self.name)
        return value

    def range_text(self) -> str:
        low, high = _resolve(self.minimum), _resolve(self.maximum)
        parts = []
        if low is not None:
            parts.append(f"{'above' if self.exclusive_minimum else 'at least'} {low}")
        if high is not None:
            parts.append(f"at most {high}")
        return " and ".join(parts)

    def schema(self) -> dict:
        """The parameter's JSON Schema, as the OpenAPI document shows it."""
        schema: dict[str, Any] = {"type": self.type}
        low, high = _resolve(self.minimum), _resolve(self.maximum)
        if low is not None:
            schema["exclusiveMinimum" if self.exclusive_minimum else "minimum"] = low
        if high is not None:
            schema["maximum"] = high
        if self.type == "string":
            schema["maxLength"] = self.max_length
            if not self.cleans_control_characters:
                schema["pattern"] = NO_CONTROL_CHARACTERS
        if self.default is not None:
            schema["default"] = self.default
        if self.repeated:
            schema = {"type": "array", "items": schema}
        return schema

    def openapi(self) -> dict:
        document = {
            "name": self.name,
            "in": "query",
            "required": self.required,
            "description": self.description,
            "schema": self.schema(),
        }
        if self.repeated:
            document.update(style="form", explode=True)
        if not self.required and self.type != "string":
            # "lat=&lon=" (an HTML form's empty fields) is the same as leaving them out.
            document["allowEmptyValue"] = True
        if self.example is not None:
            document["example"] = self.example
        return document


def parse_all(params: tuple[Param, ...], args: Mapping) -> dict[str, Any]:
    """Every declared parameter parsed, by name."""
    return {param.name: param.parse(args) for param in params}
