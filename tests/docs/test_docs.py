"""The documentation matches the program:
1. every line of README.md's `neurep check --help-config` excerpt is a line of
   the real reference, in the same [section];
2. the README's worked example (quickstart on 2 ranks, then `neurep info`)
   prints what the README shows: progress lines equal but for their times,
   the info lines exactly;
3. every path the docs name exists: paths under the repository's folders
   (jobs/..., scripts/..., ...) anywhere in README.md, docs/ and the READMEs
   of jobs/ and analysis/, and every configuration or script a command in
   their code blocks passes.
Run: test_docs.py --neurep build/neurep --mpiexec mpiexec --source ."""
import glob
import os
import re
import shlex
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from common import Runner, parse_args, run_checks  # noqa: E402

TOP_DIRS = ("jobs", "scripts", "tests", "analysis", "bench", "docs", "packaging", "cmake", "include", "src")


def fenced_blocks(text):
    """(info string, lines, line number of the opening fence) of every fenced code block."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if m:
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append((m.group(1), body, start))
        i += 1
    return blocks


def section_of(text, heading):
    """The text of the README section '## heading' up to the next '## '."""
    m = re.search(r"^## " + re.escape(heading) + r"\s*$(.*?)(?=^## |\Z)", text, re.S | re.M)
    return m.group(1) if m else ""


def sections(lines):
    """{section: set of lines} of TOML-like reference lines ('' before the first header)."""
    out, cur = {"": set()}, ""
    for line in lines:
        if re.match(r"^\[[\w.]+\]$", line.strip()):
            cur = line.strip()
            out.setdefault(cur, set())
        elif line.strip():
            out[cur].add(line.rstrip())
    return out


def check_help_config(t, readme):
    code, real, err = t.run("check", "--help-config")
    t.check(code == 0, f"neurep check --help-config exits 0 (status {code}: {err.strip()[:200]})")
    real_sections = sections(real.split("\n"))
    blocks = [b for b in fenced_blocks(section_of(readme, "Configuration")) if b[0] == "toml"]
    t.check(len(blocks) >= 1, "README 'Configuration' has a ```toml block, the --help-config excerpt")
    if not blocks:
        return
    excerpt = blocks[0][1]
    cur, n_lines = "", 0
    for line in excerpt:
        s = line.rstrip()
        if not s or s == "...":
            continue
        if re.match(r"^\[[\w.]+\]$", s):
            cur = s
            t.check(cur in real_sections, f"help-config excerpt section {cur} exists in the real reference")
            continue
        n_lines += 1
        ok = s in real_sections.get(cur, set())
        if not ok:
            key = s.split("=")[0].strip()
            actual = [r for r in real_sections.get(cur, set()) if r.split("=")[0].strip() == key]
            t.check(False, f"help-config excerpt line in {cur} is printed by the program:\n"
                           f"     README: {s}\n     real:   {actual[0] if actual else '(no such key)'}")
    t.check(n_lines >= 10, f"the excerpt has key lines to compare ({n_lines})")
    t.check(not [s for s in excerpt if s.strip()] or excerpt[-1].strip() == "...",
            "the excerpt ends with '...' (it is an excerpt)")


TIME_RE = [(re.compile(r"\(\d+(\.\d+)? s\)"), "(T s)"), (re.compile(r"\d\d:\d\d:\d\d"), "HH:MM:SS")]


def without_times(line):
    for r, sub in TIME_RE:
        line = r.sub(sub, line)
    return line.rstrip()


def check_worked_example(t, readme):
    blocks = [b for b in fenced_blocks(section_of(readme, "A worked example")) if b[0] == ""]
    t.check(len(blocks) == 1, f"README 'A worked example' has one plain ``` block of output ({len(blocks)})")
    if not blocks:
        return
    lines = blocks[0][1]
    commands = [i for i, l in enumerate(lines) if l.startswith("$ ")]
    t.check(len(commands) == 2, f"the example shows two commands, run and info ({len(commands)})")
    if len(commands) != 2:
        return
    run_cmd = shlex.split(lines[commands[0]][2:])
    info_cmd = shlex.split(lines[commands[1]][2:])
    run_out = [l for l in lines[commands[0] + 1:commands[1]] if l.strip()]
    info_out = [l for l in lines[commands[1] + 1:] if l.strip()]

    # The README's run command, as written, with this build's neurep and mpiexec.
    t.check(run_cmd[:3] == ["mpirun", "-np", "2"] and run_cmd[3] == "build/neurep" and run_cmd[4] == "run",
            f"the example runs 'mpirun -np 2 build/neurep run ...': {run_cmd}")
    args = [os.path.join(t.source, a) if a.endswith(".toml") else a for a in run_cmd[4:]]
    t.check(all(os.path.exists(a) for a in args if a.endswith(".toml")), f"the example's configuration exists: {args}")
    code, out, err = t.run(*args, np_=2, timeout=1200)
    t.check(code == 0, f"the example run exits 0 (status {code}: {err.strip()[-300:]})")
    progress = [l for l in (out + err).split("\n") if re.match(r"^\[\d+/\d+\] ", l)]
    t.check(len(progress) > 0, f"the run prints progress lines ({len(progress)})")
    shown = [l for l in run_out if l.strip() != "..."]
    for l in shown:
        m = re.match(r"^\[(\d+)/(\d+)\] ", l)
        if not m:
            t.check(False, f"README run output line is a progress line: {l!r}")
            continue
        k = int(m.group(1))
        real = progress[k - 1] if 0 < k <= len(progress) else "(no such line)"
        t.check(without_times(l) == without_times(real),
                f"progress line [{k}/..] as printed, but for its times:\n     README: {l}\n     real:   {real}")
    t.check(f"/{len(progress)}]" in (shown[-1] if shown else ""),
            f"the README's last progress line is the last of the {len(progress)} points")

    t.check(info_cmd[:2] == ["build/neurep", "info"], f"the second command is 'build/neurep info FILE': {info_cmd}")
    code, out, err = t.run(*info_cmd[1:])
    t.check(code == 0, f"neurep info exits 0 (status {code}: {err.strip()[:200]})")
    real_info = [l.rstrip() for l in out.split("\n")]
    n = 0
    for l in info_out:
        if l.strip() == "...":
            continue
        n += 1
        t.check(l.rstrip() in real_info, f"info line printed exactly as in the README:\n     README: {l.rstrip()}")
    t.check(n >= 3, f"the README shows info lines to compare ({n})")


def doc_files(source):
    files = [os.path.join(source, "README.md")]
    for pattern in ("docs/**/*.md", "jobs/**/README.md", "analysis/**/README.md"):
        files += glob.glob(os.path.join(source, pattern), recursive=True)
    return sorted(set(files))


# A path under one of the repository's folders; placeholders (<...>, %j, $VAR, UPPER) are skipped.
REPO_PATH = re.compile(r"(?<![\w./$-])((?:%s)/[\w./*<>%%-]*)" % "|".join(TOP_DIRS))
FILE_ARG = re.compile(r"\.(toml|sh|sbatch|py)$")


def placeholder(p):
    """<config-stem>, %j, $VAR, or a path starting with an UPPER-CASE word (CONFIG_DIR/*.toml)."""
    return any(c in p for c in "<>%$") or re.match(r"^[A-Z][A-Z_]*(/|\.)", p) is not None


def exists(source, p):
    p = p.rstrip(".,:;)`'\"")
    return bool(glob.glob(os.path.join(source, p)))


def check_paths(t):
    for md in doc_files(t.source):
        rel = os.path.relpath(md, t.source)
        text = open(md, encoding="utf-8").read()
        seen = set()
        # `module load cmake/3.27` names an environment module, not a path.
        prose = "\n".join(l for l in text.split("\n") if not re.match(r"^\s*module\s", l))
        for m in REPO_PATH.finditer(prose):
            p = m.group(1).rstrip(".,:;)`'\"")
            if p in seen or placeholder(p):
                continue
            seen.add(p)
            t.check(exists(t.source, p), f"{rel}: '{p}' exists")
        # Commands in shell code blocks are run from the top of the checkout:
        # every configuration or script they pass must be there.
        for info, body, start in fenced_blocks(text):
            if info not in ("sh", "bash", "shell", ""):
                continue
            for line in body:
                line = line[2:] if line.startswith("$ ") else line
                try:
                    words = shlex.split(line, comments=True)
                except ValueError:
                    continue
                for w in words:
                    w = w.split("=", 1)[-1] if w.startswith("-") else w
                    if "/" in w and FILE_ARG.search(w) and not w.startswith("/") and not placeholder(w) \
                            and w not in seen:
                        seen.add(w)
                        t.check(exists(t.source, w), f"{rel}: command argument '{w}' exists")


def check_no_conflict_markers(t):
    """No file of the source tree holds a merge's conflict markers (one reached the docs once)."""
    marker = re.compile(r"^(<<<<<<< |>>>>>>> |=======$)", re.M)
    found = []
    for top, dirs, files in os.walk(t.source):
        dirs[:] = [d for d in dirs if not d.startswith(".") and not d.startswith("build") and d != "results"]
        for name in files:
            if name.endswith((".md", ".py", ".cpp", ".hpp", ".txt", ".sh", ".toml", ".cmake", ".def")):
                path = os.path.join(top, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    if marker.search(f.read()):
                        found.append(os.path.relpath(path, t.source))
    t.check(not found, f"no merge conflict markers in the sources {found}")


def main():
    t = Runner(parse_args())
    t.source = os.path.abspath(t.source)
    readme = open(os.path.join(t.source, "README.md"), encoding="utf-8").read()
    check_paths(t)
    check_no_conflict_markers(t)
    check_help_config(t, readme)
    check_worked_example(t, readme)
    t.finish()


if __name__ == "__main__":
    run_checks(main)
