#!/usr/bin/env python3
"""Write the benchmark report and its chart from the raw results of bench/run.sh.

The results folder contains machine.txt (tab-separated facts), steps.txt (one
`step key=value ...` line per measurement step of the load generator),
scale.txt (tick, start, create_task lines) and scale/callgrind/ (the
callgrind_annotate listings). Only the standard library is used.
"""

import argparse
import os
import re
import subprocess
import sys

CONFIG_NAMES = {
    "a": "(a) broker only, relays replies",
    "a-relay": "relay baseline: (b)'s messages, no tracking",
    "b-sync": "(b) plugin, sync",
    "b-full": "(b) plugin, full",
    "b-batch": "(b) plugin, batch",
    "b-sync-exclusive": "(b) plugin, sync, exclusive locking",
    "c-sync": "(c) external tracker, sync",
    "c-batch": "(c) external tracker, batch",
}
CONFIG_ORDER = list(CONFIG_NAMES)
CHART_CONFIGS = ["a", "a-relay", "b-sync", "b-batch", "c-sync"]
# The external tracker each plugin mode is compared with.
COUNTERPART = {
    "b-sync": "c-sync",
    "b-full": "c-sync",
    "b-batch": "c-batch",
    "b-sync-exclusive": "c-sync",
}
PAIR_RE = re.compile(r'(\w+)=("[^"]*"|\S+)')


def parse_line(line):
    """Return the first word of a line and its key=value pairs."""
    word, _, rest = line.strip().partition(" ")
    fields = {}
    for key, value in PAIR_RE.findall(rest):
        fields[key] = value.strip('"')
    return word, fields


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [parse_line(line) for line in f if line.strip()]


def number(value, default=None):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def fmt(value, digits=0, missing="n/a"):
    if value is None:
        return missing
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


# ======================================================================
# Steps of the load generator
# ======================================================================


class Step:
    def __init__(self, fields):
        self.fields = fields
        parts = fields["label"].split("/")
        self.group, self.config = parts[0], parts[1]
        self.run = parts[2] if len(parts) > 2 else "1"
        self.offered = fields["offered"]
        self.accepted = number(fields.get("accepted"), 0)
        self.rate = number(fields.get("rate"))
        self.p50 = number(fields.get("p50_ms"))
        self.p99 = number(fields.get("p99_ms"))
        self.max = number(fields.get("max_ms"))
        self.lost = int(number(fields.get("lost"), 0))
        self.broker_cpu = number(fields.get("broker_cpu_s"))
        self.broker_system = number(fields.get("broker_system_s"))
        self.tracker_cpu = number(fields.get("tracker_cpu_s"))
        self.loadgen_cpu = number(fields.get("loadgen_cpu_s"))
        self.others_cpu = number(fields.get("others_cpu_s"))
        self.seconds = number(fields.get("seconds"))
        self.broker_hwm = number(fields.get("broker_hwm_kib"))
        self.db_bytes = number(fields.get("db_bytes"))

    def per_reply_us(self, cpu):
        if cpu is None or not self.accepted:
            return None
        return cpu / self.accepted * 1e6

    @property
    def offered_label(self):
        if self.offered == "max":
            return "max"
        return fmt(number(self.offered))


def load_steps(results):
    steps, failures, db_final = [], [], {}
    for word, fields in read_lines(os.path.join(results, "steps.txt")):
        if word == "step":
            steps.append(Step(fields))
        elif word == "failed":
            failures.append(fields)
        elif word == "dbfinal":
            label = fields["label"]
            if label.count("/") == 1:
                label += "/1"
            db_final[label] = number(fields.get("bytes"))
    return steps, failures, db_final


def select_passes(steps):
    """Keep, for each group and configuration, the pass during which other
    processes used the least CPU. Returns the kept steps and the rows of a
    table of every pass."""
    others = {}
    for step in steps:
        key = (step.group, step.config, step.run)
        others[key] = others.get(key, 0) + (step.others_cpu or 0)
    chosen = {}
    for (group, config, run), total in others.items():
        best = chosen.get((group, config))
        if best is None or total < others[(group, config, best)]:
            chosen[(group, config)] = run
    selected_steps = [s for s in steps if chosen[(s.group, s.config)] == s.run]
    rows = []
    for (group, config), run in chosen.items():
        runs = sorted(r for g, c, r in others if g == group and c == config)
        if group != "load" or len(runs) < 2:
            continue
        cells = []
        for r in runs:
            top = find_step([s for s in steps if s.run == r], group, config, "max")
            mark = " (kept)" if r == run else ""
            cells.append(f"{fmt(top.rate if top else None)}/s, others {fmt(others[(group, config, r)], 1)} s{mark}")
        rows.append(f"| {CONFIG_NAMES[config]} | " + " | ".join(cells) + " |")
    return selected_steps, rows


def find_step(steps, group, config, offered):
    for step in steps:
        if step.group == group and step.config == config and step.offered == offered:
            return step
    return None


def steps_table(steps, group):
    rows = [
        "| configuration | offered/s | accepted/s | p50 ms | p99 ms | max ms"
        " | broker CPU µs/reply (in the kernel) | tracker CPU µs/reply | generator CPU s"
        " | other processes CPU s | lost |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for config in CONFIG_ORDER:
        for step in (s for s in steps if s.group == group and s.config == config):
            tracker = step.per_reply_us(step.tracker_cpu) if config.startswith("c-") else None
            rows.append(
                f"| {CONFIG_NAMES[config]} | {step.offered_label} | {fmt(step.rate)}"
                f" | {fmt(step.p50, 2)} | {fmt(step.p99, 2)} | {fmt(step.max, 1)}"
                f" | {fmt(step.per_reply_us(step.broker_cpu), 1)}"
                f" ({fmt(step.per_reply_us(step.broker_system), 1)})"
                f" | {fmt(tracker, 1, '-')} | {fmt(step.loadgen_cpu, 2)}"
                f" | {fmt(step.others_cpu, 2)} | {step.lost} |"
            )
    return "\n".join(rows)


# ======================================================================
# Scale figures
# ======================================================================


def load_scale(results):
    scale = {"start": {}}
    for word, fields in read_lines(os.path.join(results, "scale.txt")):
        if word == "start":
            scale["start"][fields["name"]] = fields.get("ms")
        else:
            scale[word] = fields
    return scale


ANNOTATE_RE = re.compile(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$")


def read_annotate(path):
    """Return (total, [(count, name)]) from a callgrind_annotate listing."""
    total, entries = None, []
    if not os.path.exists(path):
        return total, entries
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            match = ANNOTATE_RE.match(line)
            if not match:
                continue
            count = int(match.group(1).replace(",", ""))
            name = match.group(3).strip()
            if name == "PROGRAM TOTALS":
                total = count
            else:
                entries.append((count, name))
    return total, entries


def short_name(name):
    """Turn `path/file.c:function [lib/binary]` into `function (binary)`."""
    where, _, binary = name.partition(" [")
    function = where.rsplit(":", 1)[-1]
    binary = os.path.basename(binary.rstrip("]"))
    if binary.startswith("libsqlite3"):
        binary = "libsqlite3"
    elif binary.startswith("libc.so"):
        binary = "libc"
    return f"{function} ({binary})" if binary else function


class CallgrindRun:
    def __init__(self, folder, name):
        self.name = name
        self.replies = None
        summary = read_lines(os.path.join(folder, name + ".txt"))
        for word, fields in summary:
            if word == "reply_cost":
                self.replies = number(fields.get("replies"))
                self.published = number(fields.get("published"))
        self.total, self.inclusive = read_annotate(os.path.join(folder, name + ".inclusive"))
        _, self.exclusive = read_annotate(os.path.join(folder, name + ".exclusive"))

    def inclusive_of(self, function):
        for count, name in self.inclusive:
            if name.split(" [")[0].endswith(":" + function):
                return count
        return None

    def per_reply(self, count):
        if count is None or not self.replies:
            return None
        return count / self.replies

    @property
    def ok(self):
        return self.replies is not None and self.total is not None


def load_callgrind(results):
    folder = os.path.join(results, "scale", "callgrind")
    runs = {}
    if os.path.isdir(folder):
        for entry in sorted(os.listdir(folder)):
            if entry.endswith(".txt"):
                run = CallgrindRun(folder, entry[:-4])
                if run.ok:
                    runs[run.name] = run
    return runs


# ======================================================================
# Chart
# ======================================================================

GNUPLOT_SCRIPT = """\
set terminal {terminal} size 1200,480 font "sans,10"
set output "{output}"
set datafile missing "?"
set datafile separator "\\t"
set multiplot layout 1,2 title "OTA tracking on Mosquitto: {devices} devices, {cores} cores, loopback"
set grid
set key top left Left reverse
set xlabel "offered load (replies/s)"
set ylabel "accepted replies/s"
set xrange [-0.5:{last}.5]
set yrange [0:*]
plot for [i=0:{lines}] "{data}" using 1:(column(3 + i)):xtic(2) with linespoints lw 2 title columnheader(3 + i)
set ylabel "p99 latency (ms, log scale)"
set logscale y
set yrange [*:*]
plot for [i=0:{lines}] "{data}" using 1:(column(3 + {count} + i)):xtic(2) with linespoints lw 2 title columnheader(3 + {count} + i)
unset multiplot
"""


def write_chart(steps, chart, results, devices, cores):
    """Plot throughput and p99 latency against offered load. Returns an
    error text, or None when the chart was written."""
    offered = []
    for step in steps:
        if step.group == "load" and step.offered not in offered:
            offered.append(step.offered)
    configs = [c for c in CHART_CONFIGS if any(s.config == c and s.group == "load" for s in steps)]
    if not offered or not configs:
        return "no load steps to plot"
    data = os.path.join(results, "chart.tsv")
    with open(data, "w", encoding="utf-8") as f:
        header = ["index", "offered"]
        header += [CONFIG_NAMES[c] for c in configs]
        header += [CONFIG_NAMES[c] for c in configs]
        f.write("\t".join(header) + "\n")
        for index, value in enumerate(offered):
            label = "max" if value == "max" else f"{number(value) / 1000:g}k"
            row = [str(index), label]
            for attribute in ("rate", "p99"):
                for config in configs:
                    step = find_step(steps, "load", config, value)
                    measured = getattr(step, attribute) if step else None
                    row.append("?" if measured is None else f"{measured:.3f}")
            f.write("\t".join(row) + "\n")
    error = None
    for terminal in ("pngcairo", "png"):
        script = GNUPLOT_SCRIPT.format(
            terminal=terminal, output=chart, data=data, devices=f"{devices:,}",
            cores=cores, last=len(offered) - 1, lines=len(configs) - 1, count=len(configs))
        result = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if result.returncode == 0:
            return None
        error = result.stderr.strip().splitlines()[-1:] or ["gnuplot failed"]
    return error[0]


# ======================================================================
# Targets
# ======================================================================


def verdict(met):
    if met is None:
        return "not measured"
    return "met" if met else "**not met**"


def latency_ratios(steps, plugin, tracker):
    """Return [(offered, p50 ratio, p99 ratio)] over the paced load steps."""
    out = []
    for step in steps:
        if step.group != "load" or step.config != plugin or step.offered == "max":
            continue
        other = find_step(steps, "load", tracker, step.offered)
        if other:
            out.append((step.offered_label, ratio(step.p50, other.p50), ratio(step.p99, other.p99)))
    return out


def targets_table(steps, scale, callgrind, args):
    rows = ["| target | measured | verdict |", "|---|---|---|"]

    def rate_at_max(config):
        step = find_step(steps, "load", config, "max")
        return step.rate if step else None

    def rate_row(target, plugin, other, floor):
        r = ratio(rate_at_max(plugin), rate_at_max(other))
        if r is None:
            return f"| {target} | not measured in this run | not measured |"
        return (f"| {target} | {fmt(r, 2)}× ({fmt(rate_at_max(plugin))} against"
                f" {fmt(rate_at_max(other))}/s) | {verdict(r >= floor)} |")

    for config, floor in (("b-sync", 0.75), ("b-batch", 0.9)):
        rows.append(rate_row(f"{CONFIG_NAMES[config]} ≥ {floor} × (a) replies/s at max load",
                             config, "a", floor))
    for plugin in ("b-sync", "b-batch"):
        tracker = COUNTERPART[plugin]
        rows.append(rate_row(
            f"{CONFIG_NAMES[plugin]} ≥ 1.5 × {CONFIG_NAMES[tracker]} replies/s at max load",
            plugin, tracker, 1.5))
    for plugin in ("b-sync", "b-batch"):
        tracker = COUNTERPART[plugin]
        pairs = latency_ratios(steps, plugin, tracker)
        values = [v for _, p50, p99 in pairs for v in (p50, p99) if v is not None]
        text = "; ".join(f"{o}/s: p50 {fmt(p50, 2)}×, p99 {fmt(p99, 2)}×" for o, p50, p99 in pairs)
        rows.append(
            f"| {CONFIG_NAMES[plugin]} p50 and p99 ≤ 0.5 × {CONFIG_NAMES[tracker]}'s,"
            f" at every paced step | {text or 'not measured in this run'}"
            f" | {verdict(max(values) <= 0.5 if values else None)} |")

    create = scale.get("create_task", {})
    seconds = number(create.get("seconds"))
    if create.get("result") == "ok":
        rows.append(f"| createTask of {args.task_devices:,} devices in under 1 s"
                    f" | {fmt(seconds, 3)} s | {verdict(seconds < 1)} |")
    else:
        reason = "createTask missing" if create.get("result") == "missing" else create.get("error", "no result")
        rows.append(f"| createTask of {args.task_devices:,} devices in under 1 s"
                    f" | not measured: {reason} | not measured |")

    tick = scale.get("tick", {})
    p99 = number(tick.get("p99_us"))
    rows.append(f"| tick with nothing due under 50 µs on {args.tick_rows:,} rows"
                f" | p99 {fmt(p99, 3)} µs, mean {fmt(number(tick.get('mean_us')), 3)} µs,"
                f" max {fmt(number(tick.get('max_us')), 1)} µs"
                f" | {verdict(None if p99 is None else p99 < 50)} |")

    small, large = callgrind.get("sync"), callgrind.get(f"sync-rows-{args.tick_rows}")
    if small and large:
        a = small.per_reply(small.inclusive_of("ota_tracker_message"))
        b = large.per_reply(large.inclusive_of("ota_tracker_message"))
        r = ratio(b, a)
        rows.append(
            "| no per-reply work that grows with tasks or devices (instructions per reply,"
            f" fresh database against {args.tick_rows:,} rows; at most 1.25×)"
            f" | {fmt(a)} → {fmt(b)} ({fmt(r, 2)}×)"
            f" | {verdict(None if r is None else r <= 1.25)} |")
    else:
        rows.append("| no per-reply work that grows with tasks or devices | n/a | not measured |")
    return "\n".join(rows)


# ======================================================================
# Sections
# ======================================================================


def peak_memory_line(steps, group):
    hwm = [(s.config, s.broker_hwm) for s in steps
           if s.group == group and s.offered == "max" and s.broker_hwm]
    if not hwm:
        return ""
    return "Broker peak memory (VmHWM) by the end of the run: " + ", ".join(
        f"{CONFIG_NAMES[c]} {fmt(v / 1024, 1)} MiB" for c, v in hwm) + ".\n"


def machine_section(results):
    rows = ["| | |", "|---|---|"]
    path = os.path.join(results, "machine.txt")
    facts = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition("\t")
                facts[key] = value
                rows.append(f"| {key} | {value} |")
    return "\n".join(rows), facts


def ratios_section(steps):
    rows = ["| configuration | replies/s vs (a) | replies/s vs relay baseline | replies/s vs (c)"
            " | broker CPU per reply vs (a) | broker + tracker CPU per reply of (c) vs (b) |",
            "|---|--:|--:|--:|--:|--:|"]
    a = find_step(steps, "load", "a", "max")
    relay = find_step(steps, "load", "a-relay", "max")
    for plugin, tracker in COUNTERPART.items():
        b = find_step(steps, "load", plugin, "max")
        c = find_step(steps, "load", tracker, "max")
        if not b:
            continue
        b_cpu = b.per_reply_us(b.broker_cpu)
        a_cpu = a.per_reply_us(a.broker_cpu) if a else None
        c_cpu = None
        if c and c.broker_cpu is not None and c.tracker_cpu is not None:
            c_cpu = c.per_reply_us(c.broker_cpu + c.tracker_cpu)
        def times(value):
            return "n/a" if value is None else f"{value:.2f}×"

        rows.append(
            f"| {CONFIG_NAMES[plugin]} | {times(ratio(b.rate, a.rate if a else None))}"
            f" | {times(ratio(b.rate, relay.rate if relay else None))}"
            f" | {times(ratio(b.rate, c.rate if c else None))} ({tracker})"
            f" | {times(ratio(b_cpu, a_cpu))} | {times(ratio(c_cpu, b_cpu))} |")
    return "\n".join(rows)


def scale_section(scale, callgrind, args):
    parts = []
    create = scale.get("create_task", {})
    parts.append("### createTask\n")
    if create.get("result") == "ok":
        before = number(create.get("broker_rss_before_kib"))
        after = number(create.get("broker_hwm_after_kib"))
        grown = None if before is None or after is None else (after - before) / 1024
        parts.append(
            f"A createTask of {args.task_devices:,} devices that never connected, sent on"
            f" `$CONTROL/ota/v1` by a user in `plugin_opt_admin_users`, was answered after"
            f" **{fmt(number(create.get('seconds')), 3)} s** (publish to response, through the broker)."
            f" The broker's resident memory was {fmt(before and before / 1024, 1)} MiB before and"
            f" peaked at {fmt(after and after / 1024, 1)} MiB by the response"
            f" (+{fmt(grown, 1)} MiB). Response data: `{create.get('data', '')}`\n")
    elif create.get("result") == "missing":
        parts.append("Not measured: createTask missing from plugin/control*.c.\n")
    else:
        parts.append(f"Not measured: {create.get('error', 'no result recorded')}.\n")

    tick = scale.get("tick", {})
    parts.append("### Tick with nothing due\n")
    if tick:
        parts.append(
            f"bench/tick_cost filled a database with {int(number(tick.get('rows'), 0)):,} task_device rows"
            f" ({int(number(tick.get('rows_per_task'), 0)):,} per task, {tick.get('pending_percent')}% in SEND"
            f" with a timeout a day away, the rest SUCCESS) in {tick.get('fill_s')} s, opened the tracker"
            f" in {tick.get('open_ms')} ms, and called ota_tracker_tick {int(number(tick.get('ticks'), 0)):,} times.\n\n"
            "| start: ticks loading every task's counts | their total | longest of them | mean | p50 | p99 | max |\n"
            "|--:|--:|--:|--:|--:|--:|--:|\n"
            f"| {tick.get('start_ticks')} | {tick.get('start_ms')} ms | {tick.get('first_tick_ms')} ms"
            f" | {tick.get('mean_us')} µs | {tick.get('p50_us')} µs"
            f" | {tick.get('p99_us')} µs | {tick.get('max_us')} µs |\n")
    else:
        parts.append("Not measured.\n")

    parts.append("### Broker start\n")
    parts.append("Time from starting mosquitto to the first message received on a subscription"
                 " (`$SYS/broker/version`), which comes after the plugin opened its"
                 " database and the first tick ran; resolution about 10 ms.\n")
    parts.append("| broker | start ms |\n|---|--:|")
    for name, ms in scale["start"].items():
        label = {"plain": "without the plugin", "plugin-empty": "plugin, empty database"}.get(name)
        if label is None:
            rows = int(number(name.replace("plugin-rows-", ""), 0))
            label = f"plugin, database of {rows:,} rows"
        parts.append(f"| {label} | {ms} |")
    parts.append("")

    parts.append("### Instructions per accepted reply\n")
    parts.append(
        f"bench/reply_cost under `valgrind --tool=callgrind --toggle-collect=feed_replies`:"
        f" one task learned from {args.callgrind_devices:,} observed `set` messages (not"
        f" counted), then {REPLIES_PER_DEVICE} replies per device (progress 25 to 100, then"
        f" success) through ota_tracker_message with a no-op publish; the tick runs every"
        f" simulated millisecond at 20,000 replies/s. Counts are inclusive.\n")
    parts.append("| run | replies | ota_tracker_message per reply | ota_tracker_tick per reply"
                 " | everything per reply |\n|---|--:|--:|--:|--:|")
    for name, run in callgrind.items():
        parts.append(
            f"| {name} | {fmt(run.replies)} | {fmt(run.per_reply(run.inclusive_of('ota_tracker_message')))}"
            f" | {fmt(run.per_reply(run.inclusive_of('ota_tracker_tick')))}"
            f" | {fmt(run.per_reply(run.total))} |")
    parts.append("")
    return "\n".join(parts)


REPLIES_PER_DEVICE = 5
SYSCALL_CONFIGS = ["a", "b-sync", "b-sync-exclusive", "b-batch"]


def read_strace(path):
    """Return {syscall: calls} from an `strace -c` summary."""
    calls = {}
    if not os.path.exists(path):
        return calls
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) in (5, 6) and fields[0][0].isdigit():
                calls[fields[-1]] = int(fields[3])
    return calls


def syscall_section(results):
    folder = os.path.join(results, "scale", "syscalls")
    counts, accepted = {}, {}
    for config in SYSCALL_CONFIGS:
        calls = read_strace(os.path.join(folder, config + ".strace"))
        done = [f for w, f in read_lines(os.path.join(folder, config + ".out")) if w == "done"]
        if calls and done and number(done[0].get("accepted")):
            counts[config] = calls
            accepted[config] = number(done[0]["accepted"])
    if not counts:
        return "Not measured.\n"
    names = set()
    for calls in counts.values():
        names.update(name for name, n in calls.items() if name != "total")
    ranked = sorted(names, key=lambda n: -max(c.get(n, 0) / accepted[k] for k, c in counts.items()))
    configs = list(counts)
    rows = ["| system call | " + " | ".join(CONFIG_NAMES[c] for c in configs) + " |",
            "|---|" + "--:|" * len(configs)]
    for name in ranked[:10] + ["total"]:
        cells = [fmt(counts[c].get(name, 0) / accepted[c], 1) for c in configs]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def hotspot_section(callgrind):
    parts = []
    for name in ("sync", "batch"):
        run = callgrind.get(name)
        if not run:
            continue
        parts.append(f"Run `{name}`, self cost (top 12):\n")
        parts.append("| function | instructions per reply | share |\n|---|--:|--:|")
        for count, function in run.exclusive[:12]:
            parts.append(f"| {short_name(function)} | {fmt(run.per_reply(count))}"
                         f" | {fmt(100 * count / run.total, 1)}% |")
        parts.append("")
        plugin = [(c, f) for c, f in run.inclusive if "/plugin/" in f.split(" [")[0]]
        parts.append(f"Run `{name}`, inclusive cost of the tracker's own functions (top 10):\n")
        parts.append("| function | instructions per reply | share |\n|---|--:|--:|")
        for count, function in plugin[:10]:
            parts.append(f"| {short_name(function)} | {fmt(run.per_reply(count))}"
                         f" | {fmt(100 * count / run.total, 1)}% |")
        parts.append("")
    return "\n".join(parts) if parts else "Not measured.\n"


def analysis_section(path, commit):
    """Return the hand-written analysis, with a warning when it was written
    for another commit than the one measured."""
    if not os.path.exists(path):
        return "No analysis was written for this run.\n"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"<!-- analysis of commit (\w+) -->", text)
    note = ""
    if match and commit and match.group(1) != commit:
        note = (f"> This analysis was written for commit {match.group(1)}; the figures above"
                f" are from commit {commit}. Check it against them.\n\n")
    return note + text


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True)
    parser.add_argument("--doc", required=True)
    parser.add_argument("--chart", required=True)
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--fleet-devices", type=int, required=True)
    parser.add_argument("--window", type=int, required=True)
    parser.add_argument("--step-seconds", type=float, required=True)
    parser.add_argument("--callgrind-devices", type=int, required=True)
    parser.add_argument("--tick-rows", type=int, required=True)
    parser.add_argument("--task-devices", type=int, required=True)
    args = parser.parse_args()

    all_steps, failures, db_final = load_steps(args.results)
    steps, pass_rows = select_passes(all_steps)
    kept_labels = {f"{s.group}/{s.config}/{s.run}" for s in steps}
    scale = load_scale(args.results)
    callgrind = load_callgrind(args.results)
    machine, facts = machine_section(args.results)
    chart_error = write_chart(steps, args.chart, args.results, args.devices, facts.get("cores", "?"))
    chart_link = os.path.relpath(args.chart, os.path.dirname(os.path.abspath(args.doc)))
    bench_dir = os.path.dirname(os.path.abspath(__file__))

    out = []
    out.append("# Benchmarks\n")
    out.append(
        "What the OTA plugin costs the broker, against the broker alone and against the usual"
        " design, a separate tracker process. Mosquitto runs every plugin callback on its one"
        f" event-loop thread, so the plugin's time per reply is taken from every client. This"
        f" page is written by `{facts.get('command', 'bench/run.sh')}`; run it again to refresh"
        " it, on a quiet machine.\n")
    out.append("## Machine and load\n")
    out.append(machine)
    out.append(
        "\nThe generator, the broker and the external tracker share the machine's cores, and"
        " other processes may have run too: each step's table row gives the CPU time they"
        " took (from /proc/stat, less the broker, tracker and generator).")
    others = [s.others_cpu for s in steps if s.others_cpu is not None]
    if others:
        busy = sum(1 for value in others if value > 0.5)
        out.append(
            f" During the steps kept below, other processes used {fmt(sum(others), 1)} CPU"
            f" seconds in all, at most {fmt(max(others), 2)} s in one step, and more than"
            f" 0.5 s in {busy} of {len(others)} steps.")
    out.append("")
    out.append("## Method\n")
    out.append(
        f"- **Messages.** bench/loadgen connects {args.devices:,} devices (client id = serial"
        " number), a backend and a dashboard from one process through one epoll loop. For"
        " each upgrade the backend publishes the `set` (taskId, url, version 1.2, status 1,"
        " QoS 1) on `/{serial}/http/upgrade/set`. Once the device receives it, the device"
        " publishes four progress replies (25, 50, 75, 100) and a success on"
        " `/{serial}/http/upgrade/reply` at QoS 1. Then the backend pushes the next task.\n"
        "- **Latency** is matched per message: the generator records when it published each"
        " reply, keyed by (serial number, task, progress or success), and the dashboard looks"
        " each message it receives up by the same key. In (b) and (c) the dashboard"
        " subscribes to `/+/ws/ota/status`; in (a) there is no plugin, so it subscribes to"
        " the replies and times them the same way.\n"
        "- **Accepted replies/s** counts replies whose status message (or, in (a), the"
        " relayed reply) reached the dashboard, divided by the time from the step's start"
        " to the last one.\n"
        f"- **Steps.** Each step paces replies at the offered rate for {args.step_seconds:g} s,"
        " then waits for the last messages. At `max` the generator sends whenever fewer"
        f" than {args.window:,} replies wait for their message, so latency there is mostly"
        " time in queues, up to that window divided by the throughput. Compare latencies"
        " at the paced steps.\n"
        "- **Configurations**, each on a fresh broker and database: (a) is mosquitto without"
        " the plugin, and (b) is mosquitto with the plugin, in each durability mode. (c) is"
        " mosquitto without the plugin plus bench/external_tracker, a libmosquitto process"
        " linking the same core (otacore). It subscribes to replies and sets (QoS 1) and"
        " publishes the status. The relay baseline is mosquitto with bench/relay_plugin.c,"
        " which publishes the messages the plugin derives: a status message per reply, and"
        " status 0 and 1 per `set`. It parses three fields and checks or stores nothing, so"
        " it measures the protocol's messages alone, which no tracking plugin can beat.\n"
        "- **Broker settings** for every configuration: `set_tcp_nodelay true` (and"
        " TCP_NODELAY on every client), so that Nagle's algorithm does not hold small"
        " packets back, and `max_queued_messages 100000`, so that no message is dropped"
        " from a full queue. Everything runs on 127.0.0.1.\n"
        "- **CPU** per process is read from /proc/PID/stat before and after each step and"
        " divided by the accepted replies; memory is VmHWM, the peak resident set.\n")

    out.append("## Targets\n")
    out.append(targets_table(steps, scale, callgrind, args))
    out.append("")
    if failures:
        out.append("Runs that failed: " + ", ".join(
            f"{f['label']} (exit {f['rc']})" for f in failures) + ".\n")

    out.append("## Throughput and latency\n")
    out.append(f"{args.devices:,} devices, one upgrade after another.\n")
    out.append(steps_table(steps, "load"))
    out.append("")
    if chart_error:
        out.append(f"No chart: {chart_error}.\n")
    else:
        out.append(f"![Accepted replies/s and p99 latency against offered load]({chart_link})\n")
    if pass_rows:
        passes = max(row.count("|") - 2 for row in pass_rows)
        out.append(
            "Each configuration ran in every pass, one after another, so that a burst of"
            " load from other processes hits one pass of a configuration rather than all of"
            " them. The tables keep the pass during which other processes used the least CPU;"
            " accepted replies/s at `max` and other processes' CPU seconds in each pass:\n")
        out.append("| configuration | " + " | ".join(f"pass {i + 1}" for i in range(passes)) + " |")
        out.append("|---|" + "---|" * passes)
        out.extend(pass_rows)
        out.append("")
    out.append("Ratios at the `max` step:\n")
    out.append(ratios_section(steps))
    out.append("")
    out.append(peak_memory_line(steps, "load"))
    if db_final:
        out.append("Database size after each run (main file, after the broker's checkpoint at"
                   " stop): " + ", ".join(
                       f"{label.split('/')[1]} {fmt(size / 1048576, 1)} MiB"
                       for label, size in db_final.items()
                       if label.startswith("load/") and label in kept_labels) + ".\n")

    if any(s.group == "fleet" for s in steps):
        out.append(f"## {args.fleet_devices:,} devices\n")
        out.append(f"The same messages from {args.fleet_devices:,} connections of one process.\n")
        out.append(steps_table(steps, "fleet"))
        out.append("")
        out.append(peak_memory_line(steps, "fleet"))

    out.append("## Scale\n")
    out.append(scale_section(scale, callgrind, args))
    out.append("## Hot spots\n")
    out.append(
        "Instructions in user space, from callgrind (the `sync` and `batch` runs above)."
        " Functions shown by address are in the stripped libsqlite3; the analysis below"
        " names the largest.\n")
    out.append(hotspot_section(callgrind))
    out.append("### System calls of the broker per accepted reply\n")
    out.append(
        "`strace -f -c` attached to the broker while 100 devices send 1,000 replies/s;"
        " the counts include the broker's work for the `set` messages (one per five"
        " replies) and are divided by the accepted replies. strace slows the broker, so"
        " only the counts mean something.\n")
    out.append(syscall_section(args.results))
    out.append("## What bounds the results\n")
    out.append(analysis_section(os.path.join(bench_dir, "analysis.md"), facts.get("commit")))

    os.makedirs(os.path.dirname(os.path.abspath(args.doc)), exist_ok=True)
    with open(args.doc, "w", encoding="utf-8") as f:
        f.write("\n".join(out).rstrip() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
