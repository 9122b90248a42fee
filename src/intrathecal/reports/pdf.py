"""A small layer over fpdf2: a Unicode font, headings, paragraphs, tables and images."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.fonts import FontFace

DISCLAIMER = (
    "Reference information for trained clinicians. Patient-reported outcomes are what patients "
    "answered, shown with their definitions; shares carry their counts and 95% intervals. Not a "
    "substitute for the pump's or drug's labelling or for clinical judgement."
)
# DejaVu Sans ships with matplotlib (already a dependency): it has ≥, µ, – and other glyphs
# the PDF core fonts lack.
_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT = "DejaVu"


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]


class Document(FPDF):
    def __init__(self, title: str, generated_on: date) -> None:
        super().__init__(format="A4")
        self.report_title = title
        self.generated_on = generated_on
        self.add_font(FONT, "", str(_FONTS / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(_FONTS / "DejaVuSans-Bold.ttf"))
        self.set_title(title)
        self.set_producer("intrathecal")
        # The report's date, not the clock: the same data gives the same document.
        self.set_creation_date(
            datetime(generated_on.year, generated_on.month, generated_on.day, tzinfo=UTC)
        )
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 15, 15)
        self.add_page()

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FONT, "", 7)
        self.set_text_color(90, 90, 90)
        self.cell(
            0,
            4,
            f"{self.report_title} · {self.generated_on.isoformat()} · page {self.page_no()}",
            align="C",
        )
        self.set_text_color(0, 0, 0)

    def heading(self, text: str, size: int = 13) -> None:
        self.ln(2)
        self.set_font(FONT, "B", size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def paragraph(self, text: str, size: int = 9, bold: bool = False) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.multi_cell(0, size * 0.48, text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def bullets(self, lines: Sequence[str], size: int = 8) -> None:
        for line in lines:
            self.paragraph(f"• {line}", size)

    def data_table(self, data: Table, widths: Sequence[int] | None = None, size: int = 8) -> None:
        if not data.rows:
            self.paragraph("(none recorded)", size)
            return
        self.set_font(FONT, "", size)
        with self.table(
            col_widths=tuple(widths) if widths else None,
            headings_style=FontFace(emphasis="BOLD", fill_color=(225, 232, 242)),
            line_height=size * 0.55,
            text_align="LEFT",
        ) as table:
            table.row([str(h) for h in data.headers])
            for values in data.rows:
                table.row([str(v) for v in values])
        self.ln(2)

    def picture(self, png: bytes, width: float = 175) -> None:
        self.image(io.BytesIO(png), w=width)
        self.ln(2)

    def to_bytes(self) -> bytes:
        return bytes(self.output())
