"""Where separation stops working: for each setting, the phase length at which separated phases
fall behind the interleaved twin of the same setting at equal characters.

A separated row holds when its final goodness AUC and product-readout bits/char are within the
margins of analysis/paired.py (0.02, 0.05) of its twin's: the primary measures every verdict
reads (accuracy has floors). This is a reading of seed means, for sweeps without the seeds and
nulls a paired verdict needs. The crossing lies between the longest phase that held and the
shortest that did not, counted in characters and in updates.
"""

from __future__ import annotations

from charff.analysis.paired import BPC, MARGIN, OWN_AUC


def by_setting(rows: list[dict], settings: dict[str, tuple]) -> dict[tuple, list[dict]]:
    """Sweep rows grouped by setting (settings: cell -> results.setting_without_schedule), in order."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(settings[row["cell"]], []).append(row)
    return groups


def setting_names(keys: list[tuple]) -> dict[tuple, str]:
    """A short name per setting: the values that differ between them ("lr=0.01, momentum=0.999")."""
    fields = dict.fromkeys(k for key in keys for k, _ in key)
    varying = [k for k in fields if len({dict(key).get(k) for key in keys}) > 1]
    return {key: ", ".join(f"{k.split('.')[-1]}={dict(key).get(k)}" for k in varying) or "base" for key in keys}


def phase_lines(group: list[dict]) -> dict[float, list[dict]]:
    """One setting's separated rows by their ratio of sleep to wake, each sorted by wake length:
    the lines along which the phase length varies."""
    lines: dict[float, list[dict]] = {}
    for row in sorted((r for r in group if r["separated"]), key=lambda r: r["wake_chars"]):
        lines.setdefault(row["sleep_chars"] / row["wake_chars"], []).append(row)
    return lines


def twin_row(group: list[dict], chars_per_update: int) -> dict | None:
    """The setting's interleaved row that updates as often as its separated rows (a large-batch
    twin does not)."""
    return next((r for r in group if r["interleaved"] and r["chars_per_update"] == chars_per_update), None)


def holds(row: dict, twin: dict) -> bool:
    return (row["final_goodness_auc"] >= twin["final_goodness_auc"] - MARGIN[OWN_AUC]
            and row["final_product_bpc"] <= twin["final_product_bpc"] + MARGIN[BPC])


def crossings(rows: list[dict], settings: dict[str, tuple]) -> list[dict]:
    """One entry per setting and sleep/wake ratio that has an interleaved twin and separated rows."""
    out = []
    for group in by_setting(rows, settings).values():
        for separated in phase_lines(group).values():
            first = separated[0]
            per_update = first["chars_per_update"]
            twin = twin_row(group, per_update)
            if twin is None:
                continue
            held = [r["wake_chars"] for r in separated if holds(r, twin)]
            failed = [r["wake_chars"] for r in separated if not holds(r, twin)]
            below = max((c for c in held if not failed or c < min(failed)), default=None)
            above = min(failed, default=None)
            out.append({"setting": twin["cell"], "chars_per_update": per_update,
                        "horizon_updates": first["horizon_updates"], "horizon_chars": first["horizon_chars"],
                        "held_up_to_chars": below, "failed_from_chars": above,
                        "held_up_to_updates": below / per_update if below else None,
                        "failed_from_updates": above / per_update if above else None,
                        "lengths": [r["wake_chars"] for r in separated]})
    return out
