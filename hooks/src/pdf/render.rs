//! Lays a receipt out as PDF pages with krilla (a maintained PDF writer that embeds and subsets
//! TrueType fonts): the title, the instance id, then per section its label/value lines, with a
//! new page whenever the current one is full. The font is DejaVu Sans (vendored in
//! `hooks/fonts/` with its licence), so Norwegian letters (æøå) and most of Latin, Greek and
//! Cyrillic render correctly; only the glyphs used are embedded.

use krilla::Document;
use krilla::geom::Point;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};

static FONT: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");

/// A4 in points.
const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const TITLE_SIZE: f32 = 18.0;
const HEADING_SIZE: f32 = 13.0;
const TEXT_SIZE: f32 = 10.0;
const LINE: f32 = 14.0;
/// Characters per text line: DejaVu Sans averages about 0.55 em, so this fits the width
/// between the margins at [`TEXT_SIZE`] with room to spare.
const WRAP_CHARS: usize = 80;

/// What a receipt says.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub title: String,
    pub subtitle: Vec<String>,
    pub sections: Vec<Section>,
}

/// One heading with its `label: value` lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub heading: String,
    pub fields: Vec<(String, String)>,
}

/// One laid-out line.
enum Line {
    Title(String),
    Heading(String),
    Text(String),
    Gap,
}

impl Line {
    fn size(&self) -> f32 {
        match self {
            Line::Title(_) => TITLE_SIZE,
            Line::Heading(_) => HEADING_SIZE,
            Line::Text(_) | Line::Gap => TEXT_SIZE,
        }
    }

    fn height(&self) -> f32 {
        match self {
            Line::Title(_) => TITLE_SIZE * 1.6,
            Line::Heading(_) => HEADING_SIZE * 1.8,
            Line::Text(_) => LINE,
            Line::Gap => LINE / 2.0,
        }
    }
}

/// The PDF's bytes.
pub fn render(receipt: &Receipt) -> Result<Vec<u8>, String> {
    let font = Font::new(FONT.into(), 0).ok_or("the embedded font cannot be read")?;
    let mut lines = vec![Line::Title(receipt.title.clone())];
    for text in &receipt.subtitle {
        lines.extend(wrap(text).into_iter().map(Line::Text));
    }
    for section in &receipt.sections {
        lines.push(Line::Gap);
        lines.push(Line::Heading(section.heading.clone()));
        if section.fields.is_empty() {
            lines.push(Line::Text("(no data)".into()));
        }
        for (label, value) in &section.fields {
            lines.extend(
                wrap(&format!("{label}: {value}"))
                    .into_iter()
                    .map(Line::Text),
            );
        }
    }

    let mut document = Document::new();
    document.set_metadata(krilla::metadata::Metadata::new().title(receipt.title.clone()));
    let settings =
        || PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).ok_or("the page size is invalid");
    let mut lines = lines.into_iter().peekable();
    while lines.peek().is_some() {
        let mut page = document.start_page_with(settings()?);
        let mut surface = page.surface();
        let mut y = MARGIN;
        while let Some(line) = lines.next_if(|l| y + l.height() <= PAGE_HEIGHT - MARGIN) {
            y += line.height();
            let text = match &line {
                Line::Title(t) | Line::Heading(t) | Line::Text(t) => t,
                Line::Gap => continue,
            };
            surface.draw_text(
                Point::from_xy(MARGIN, y),
                font.clone(),
                line.size(),
                text,
                false,
                TextDirection::Auto,
            );
        }
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| format!("the PDF could not be written: {e:?}"))
}

/// Breaks text into lines of at most [`WRAP_CHARS`] characters, at spaces where it can.
fn wrap(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ') {
            let needed =
                line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
            if needed > WRAP_CHARS && !line.is_empty() {
                out.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            while line.chars().count() > WRAP_CHARS {
                let rest: String = line.chars().skip(WRAP_CHARS).collect();
                out.push(line.chars().take(WRAP_CHARS).collect());
                line = rest;
            }
        }
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_wraps_and_a_long_receipt_renders() {
        let lines = wrap(&"ord ".repeat(100));
        assert!(lines.len() >= 5);
        assert!(lines.iter().all(|l| l.chars().count() <= WRAP_CHARS));
        let lines = wrap(&"x".repeat(200));
        assert_eq!(lines.len(), 3);

        let receipt = Receipt {
            title: "ttd/files".into(),
            subtitle: vec!["Instance 1/abc".into()],
            sections: vec![Section {
                heading: "Fill — form".into(),
                fields: (0..200)
                    .map(|i| (format!("rad.{i}"), "blåbærsyltetøy".into()))
                    .collect(),
            }],
        };
        // The pages and their text are checked with pdftotext in the API's receipt test.
        let pdf = render(&receipt).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }
}
