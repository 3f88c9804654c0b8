"""The district figures, each defined once: its key, its label in both languages, its unit, what it counts and,
for a timeliness figure, its clock (when it starts, when it stops).

Every surface that shows a figure takes its words from here: the dashboard cards and table headers (the label,
and the definition as a tooltip), the footnote "指标说明" under each page (the same definitions), the CSV and
XLSX headers and the XLSX "说明" sheet, and `docs/figures.md`, which `tests/unit/test_figures_glossary.py` checks is
exactly `markdown()` of this module (regenerate it with `python -m app.district.glossary > docs/figures.md`).
The agreement test (`tests/web/test_figure_agreement.py`) finds each figure on every surface by its key
(`data-figure` in the pages, the header text in the exports) and checks the values agree.

Units: 人 counts students (each student once, however many screenings or warnings they have); 次 counts events
(warnings, interviews, rechecks: a student with two warnings counts twice); 人次 counts screenings; 个 counts
cases; % is a rate of two figures above. A header that says 人 counts students.

Pure data: no Flask, no database (`app.texts.pick` chooses the language inside a request).
"""
from __future__ import annotations

from dataclasses import dataclass

from app.texts import language

Text = dict[str, str]  # {"zh": ..., "en": ...}

UNITS: dict[str, Text] = {
    "students": {"zh": "人", "en": "students"},
    "events": {"zh": "次", "en": "times"},
    "screenings": {"zh": "人次", "en": "screenings"},
    "cases": {"zh": "个", "en": "cases"},
    "counselors": {"zh": "人", "en": "people"},
    "percent": {"zh": "%", "en": "%"},
}


@dataclass(frozen=True)
class Figure:
    key: str  # the figure's name everywhere: measure of app.district.service.Figures, data-figure, docs
    label: Text
    unit: str  # a key of UNITS
    definition: Text
    clock: Text | None = None  # timeliness figures: when the clock starts and when it stops
    numerator: str | None = None  # a rate: the figures it divides
    denominator: str | None = None
    measured: bool = True  # a measure of the protected district figures (False: the staffing page's own counts)

    @property
    def is_rate(self) -> bool:
        return self.numerator is not None

    def text(self, locale: object = None) -> str:
        """The label in the interface language (without the unit)."""
        return self.label[language(locale)]

    def unit_text(self, locale: object = None) -> str:
        return UNITS[self.unit][language(locale)]

    def header(self, locale: object = None) -> str:
        """The label with its unit, as every table and export header shows it: 在籍学生（人）, Coverage (%)."""
        lang = language(locale)
        unit = UNITS[self.unit][lang]
        if lang == "zh":
            return f"{self.label['zh']}（{unit}）"
        # English labels name what they count ("Students screened", "Crisis warnings"): only a rate adds its unit.
        return f"{self.label['en']} (%)" if self.unit == "percent" else self.label["en"]

    def explain(self, locale: object = None) -> str:
        """The definition, with the clock for a timeliness figure: the tooltip and the footnote say this."""
        lang = language(locale)
        out = self.definition[lang]
        if self.clock is not None:
            out += ("计时：" if lang == "zh" else " Clock: ") + self.clock[lang]
        return out


def _f(key: str, zh: str, en: str, unit: str, def_zh: str, def_en: str, **kw: object) -> Figure:
    return Figure(key, {"zh": zh, "en": en}, unit, {"zh": def_zh, "en": def_en}, **kw)  # type: ignore[arg-type]


_CONTACT_CLOCK = {
    "zh": "从预警产生（测评记录时）开始，到第一次联系学生（记录联系，或确认收到危机提醒）为止；"
          "两者在学校所在时区的同一日历日内即为当天。",
    "en": "starts when the warning is raised (the screening is recorded) and stops at the first contact with the "
          "student (a contact recorded, or the crisis alert acknowledged); the same calendar day in the school time "
          "zone counts as the same day.",
}
_INTERVIEW_CLOCK = {
    "zh": "从预警产生开始，截止日期为当日加上预警政策规定的约谈时限（二级按上学日计）；心理教师约谈后确认、调整或撤销"
          "等级时停止；在截止日期当天或之前完成即为按时。",
    "en": "starts when the warning is raised; the deadline is that day plus the policy's interview window (school "
          "days for level 2); stops when the counselor confirms, changes or dismisses the level after the interview; "
          "on time when done on or before the deadline.",
}
_RECHECK_CLOCK = {
    "zh": "从等级确认时排定复查日期开始，到复查测评完成为止；复查测评日期不晚于复查日期即为按时。",
    "en": "starts when the level is confirmed and the recheck date is planned, and stops when the recheck screening "
          "is done; on time when it is done on or before the recheck date.",
}
_FROM_CAMPAIGNS = {
    "zh": "只计所选测评计划的测评所产生的预警。",
    "en": "Only warnings that came from the screenings of the chosen campaigns.",
}

FIGURES: tuple[Figure, ...] = (
    _f("on_roll", "在籍学生", "Students on the roll", "students",
       "所选测评计划覆盖的学校中，目前学籍状态为在籍的全部学生（所有年级）。名册不按学期留存：以往学期也按当前名册计。",
       "Every student whose status is enrolled, in every grade, at the schools the chosen campaigns reach. The roll "
       "is not kept per term: past terms are counted against today's roll."),
    _f("eligible", "应测学生", "Students to screen", "students",
       "在籍学生中，所选测评计划面向的年级的学生（按各校参加的测评计划及其年级）。覆盖率的分母。",
       "Students on the roll in the grades the chosen campaigns target, at the schools they target. The base of "
       "coverage."),
    _f("screened", "已测学生", "Students screened", "students",
       "在所选测评计划中至少有一份有效测评的学生，每人只计一次（无论做了几个量表）。",
       "Students with at least one valid screening in the chosen campaigns, each student once however many "
       "instruments they took."),
    _f("coverage", "覆盖率", "Coverage", "percent",
       "已测学生 ÷ 应测学生。已转出的学生若已测仍计入已测，因此个别情况下可超过100%。",
       "Students screened ÷ students to screen. A student who was screened and has since left still counts as "
       "screened, so it can exceed 100%.",
       numerator="screened", denominator="eligible"),
    _f("positive", "阳性学生", "Students with a positive screen", "students",
       "已测学生中至少有一份测评为阳性（达到量表的阳性界值）的学生，每人只计一次。",
       "Screened students with at least one positive screen (at or above the instrument's positive cut-off), each "
       "student once."),
    _f("positive_rate", "阳性率", "Positive rate", "percent",
       "阳性学生 ÷ 已测学生。",
       "Students with a positive screen ÷ students screened.",
       numerator="positive", denominator="screened"),
    _f("warn_L1", "一级预警学生", "Students at level 1", "students",
       "最高确认等级为一级的学生：每名学生只计一次，按其在所选测评计划中经心理教师确认的最高等级计入一级、二级或三级之一"
       "（待确认的预警不计）。" + _FROM_CAMPAIGNS["zh"],
       "Students whose highest confirmed level is 1: each student is counted once, at the highest level a counselor "
       "confirmed for them in the chosen campaigns, in exactly one of levels 1, 2 and 3 (warnings still waiting for "
       "confirmation are not counted). " + _FROM_CAMPAIGNS["en"]),
    _f("warn_L2", "二级预警学生", "Students at level 2", "students",
       "最高确认等级为二级的学生（每人只计一次，计法同一级预警学生）。",
       "Students whose highest confirmed level is 2 (each student once, counted as for level 1)."),
    _f("warn_L3", "三级预警学生", "Students at level 3", "students",
       "最高确认等级为三级的学生（每人只计一次，计法同一级预警学生）。",
       "Students whose highest confirmed level is 3 (each student once, counted as for level 1)."),
    _f("warn_care", "关爱对象学生", "Care-group students", "students",
       "因关爱群体（留守、随迁、困难）提出关爱等级预警、且没有确认为一至三级的学生。关爱等级无需约谈确认，提出即计。",
       "Students with a care-level warning (a care group: left-behind, migrant, hardship) and no confirmed level 1 to "
       "3. A care level needs no interview, so it counts as soon as it is raised."),
    _f("crisis", "危机预警", "Crisis warnings", "events",
       "建议或确认为一级的预警（被新预警取代的除外），按预警计次：同一学生有两次危机预警计两次；包括尚待确认的。"
       + _FROM_CAMPAIGNS["zh"],
       "Warnings suggested or confirmed at level 1 (except those superseded by a newer one), counted as warnings: a "
       "student with two crisis warnings counts twice; those still waiting for confirmation are included. "
       + _FROM_CAMPAIGNS["en"]),
    _f("crisis_same_day", "当天联系的危机预警", "Crises contacted the same day", "events",
       "危机预警中当天联系到学生的次数。", "Crisis warnings whose student was contacted the same day.",
       clock=_CONTACT_CLOCK),
    _f("crisis_same_day_rate", "当天联系率", "Same-day contact rate", "percent",
       "当天联系的危机预警 ÷ 危机预警。", "Crises contacted the same day ÷ crisis warnings.",
       clock=_CONTACT_CLOCK, numerator="crisis_same_day", denominator="crisis"),
    _f("interview_due", "应约谈预警", "Interviews due", "events",
       "一至三级预警（不含被取代的）中约谈截止日期已到、或已完成约谈的，按预警计次。",
       "Level 1 to 3 warnings (not superseded) whose interview deadline has come, or whose interview is done, "
       "counted as warnings.",
       clock=_INTERVIEW_CLOCK),
    _f("interview_on_time", "按时约谈", "Interviews on time", "events",
       "应约谈预警中在截止日期当天或之前完成约谈的次数。",
       "Interviews due that were done on or before their deadline.",
       clock=_INTERVIEW_CLOCK),
    _f("interview_rate", "约谈及时率", "Interview on-time rate", "percent",
       "按时约谈 ÷ 应约谈预警。", "Interviews on time ÷ interviews due.",
       clock=_INTERVIEW_CLOCK, numerator="interview_on_time", denominator="interview_due"),
    _f("recheck_due", "应复查", "Rechecks due", "events",
       "由这些预警排定、已到期（已完成或已逾期）的复查，按复查计次（已取消的除外）。",
       "Rechecks planned from those warnings that have fallen due (done or overdue), counted as rechecks "
       "(cancelled ones excluded).",
       clock=_RECHECK_CLOCK),
    _f("recheck_on_time", "按时复查", "Rechecks on time", "events",
       "应复查中按时完成的次数。", "Rechecks due that were done on time.", clock=_RECHECK_CLOCK),
    _f("recheck_rate", "复查及时率", "Recheck on-time rate", "percent",
       "按时复查 ÷ 应复查。", "Rechecks on time ÷ rechecks due.",
       clock=_RECHECK_CLOCK, numerator="recheck_on_time", denominator="recheck_due"),
    _f("referrals", "转介", "Referrals made", "events",
       "由这些预警的个案转介到心理健康服务机构的次数（个案时间线上的转介记录），按转介计次。" + _FROM_CAMPAIGNS["zh"],
       "Referrals to a mental-health service made for the cases of those warnings (the referral entries of the case "
       "timeline), counted as referrals. " + _FROM_CAMPAIGNS["en"]),
    _f("referrals_feedback", "已收到反馈的转介", "Referral feedback received", "events",
       "转介中已记录服务机构反馈（诊断印象、建议或下次就诊）的次数。",
       "Referrals whose service's feedback (impression, advice or next appointment) has been recorded."),
    _f("referral_feedback_rate", "转介反馈率", "Referral feedback rate", "percent",
       "已收到反馈的转介 ÷ 转介。", "Referral feedback received ÷ referrals made.",
       numerator="referrals_feedback", denominator="referrals"),
    _f("counselors_full_time", "专职心理教师", "Full-time counselors", "counselors",
       "在该校任职、账号有效的专职心理健康教师（一人兼任两校时两校各计一次）。",
       "Active full-time mental-health teachers assigned to the school (one who serves two schools counts at both).",
       measured=False),
    _f("counselors_part_time", "兼职心理教师", "Part-time counselors", "counselors",
       "在该校任职、账号有效的兼职心理健康教师。", "Active part-time mental-health teachers assigned to the school.",
       measured=False),
    _f("students_per_counselor", "每名专职心理教师对应学生", "Students per full-time counselor", "students",
       "在籍学生 ÷ 专职心理教师；没有专职心理教师或在籍学生数被隐去时为“—”。",
       "Students on the roll ÷ full-time counselors; \"—\" when the school has none or its count is hidden.",
       measured=False),
)

BY_KEY: dict[str, Figure] = {f.key: f for f in FIGURES}

# Measures of app.district.service.Figures that are not in the glossary above (their own tables name them);
# with the glossary's counts they are every measure a district page may ask for.
OTHER_MEASURES = frozenset({
    "screened_care", "positive_care", "screened_other", "positive_other", "crisis_assessed_same_day",
    "crisis_safety_plan", "cases_open", "cases_referred",
    "cases_status_open", "cases_status_following", "cases_status_referred",  # the school page's open cases
})
MEASURE_PREFIXES = ("screens:", "positives:", "screened_", "positive_")  # per instrument, per care group


def get(key: str) -> Figure:
    return BY_KEY[key]


def is_measure(name: str) -> bool:
    """Whether `name` is a measure a page may ask the protected figures for (a typo or a renamed measure is not:
    `Figures.value` raises rather than show 0)."""
    figure = BY_KEY.get(name)
    if figure is not None:
        return figure.measured and not figure.is_rate
    return name in OTHER_MEASURES or name.startswith(MEASURE_PREFIXES)


def header_keys(locale: object = "zh") -> dict[str, str]:
    """Header text → figure key, for reading an export back (the agreement test)."""
    return {f.header(locale): f.key for f in FIGURES}


def markdown() -> str:
    """docs/figures.md: the glossary as a document (tests/unit/test_figures_glossary.py keeps them equal)."""
    lines = [
        "# 指标说明 — what each district figure counts",
        "",
        "Generated from `app/district/glossary.py` (`python -m app.district.glossary > docs/figures.md`); a test "
        "fails when the two differ. The pages show the same text as a tooltip on each figure and in the footnote "
        "\"指标说明\"; the XLSX exports carry it on their \"说明\" sheet.",
        "",
        "Units: 人 = students (each student once); 次 = events (warnings, interviews, rechecks: one student may count "
        "more than once); 人次 = screenings; 个 = cases; % = a rate of two figures. A header that says 人 counts "
        "students. Small counts are hidden on every surface alike (\"<5\", \"*\", \"—\": see the footnote on the "
        "pages and docs/decisions.md).",
        "",
        "| key | 中文 | English | unit | definition |",
        "|---|---|---|---|---|",
    ]
    for f in FIGURES:
        lines.append(f"| `{f.key}` | {f.header('zh')} | {f.header('en')} | {UNITS[f.unit]['zh']} | "
                     f"{f.explain('zh')}<br>{f.explain('en')} |")
    lines += ["", "## Clocks of the timeliness figures", ""]
    seen: list[Text] = []
    for f in FIGURES:
        if f.clock is not None and f.clock not in seen:
            seen.append(f.clock)
            lines.append(f"- **{f.text('zh')} / {f.text('en')}**: {f.clock['zh']} {f.clock['en'][0].upper()}"
                         f"{f.clock['en'][1:]}")
    lines += [
        "",
        "## Where each figure is shown",
        "",
        "- Dashboard (`/district`): the cards (在籍, 应测, 已测, 覆盖率, 阳性率, 一级预警学生, 危机预警, "
        "当天联系率) and the tables; each header's tooltip is the definition above, and the footnote "
        "\"指标说明\" lists the same text.",
        "- Trends (`/district/trends`): the table of district figures by term (and its CSV / XLSX).",
        "- Staffing (`/district/staffing`): 在籍学生 per school, the counselors, students per full-time counselor.",
        "- Exports: the same header text as the page (label and unit), the same marks for hidden cells.",
        "",
        "`tests/web/test_figure_agreement.py` renders every surface over one district and checks that each figure "
        "(key and cell) reads the same everywhere it appears.",
        "",
        "## Exports for spreadsheets",
        "",
        "- **CSV**: UTF-8 with a byte-order mark (Excel reads the Chinese), the header in row 1 and nothing above it. "
        "What the table is about is in its file name: table, term (or campaign), filters, and the local time it was "
        "generated, e.g. `在籍人数与测评覆盖率_2026-2027-1_农村小规模学校_20261203-0915.csv` (sent as RFC 5987 "
        "`filename*`, with an ASCII `filename` beside it: "
        "`district_coverage_2026-2027-1_rural_small_20261203-0915.csv`).",
        "- **XLSX**: sheet 1 is the table (header in row 1, counts as numbers, marks as text); sheet 2 \"说明\" "
        "lists the table, the selection, the filters, the grouping, the small-count rule, the generated-at time "
        "and the definition of every column that is in this glossary.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
