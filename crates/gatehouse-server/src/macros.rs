//! Macros in storage-format content: found with a real XML reader, matched to
//! installed apps' macro modules, decided like any module (guest gate, then
//! conditions), then rendered: dynamic macros become iframe descriptors,
//! static macros are fetched from the app server-side (signed, with a timeout
//! and a size cap), and blocked macros become the host's placeholder — with
//! no request to the app at all.

use std::collections::BTreeMap;
use std::time::Duration;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// One top-level `<ac:structured-macro>` in a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroCall {
    pub name: String,
    pub parameters: BTreeMap<String, String>,
    /// Plain-text body, if any (CDATA or text).
    pub body: Option<String>,
    /// Byte range of the whole element in the source.
    pub range: std::ops::Range<usize>,
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .map(|a| {
            let raw = a.value.to_string();
            quick_xml::escape::unescape(&raw)
                .map(|c| c.into_owned())
                .unwrap_or(raw)
        })
}

/// The text of an entity reference (`&amp;`, `&#65;`, and the HTML ones
/// storage format uses, like `&nbsp;`); unknown ones stay as written.
fn entity_text(r: &quick_xml::events::BytesRef<'_>) -> String {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return c.to_string();
    }
    match &**r {
        "amp" => "&".into(),
        "lt" => "<".into(),
        "gt" => ">".into(),
        "quot" => "\"".into(),
        "apos" => "'".into(),
        "nbsp" => "\u{a0}".into(),
        other => format!("&{other};"),
    }
}

/// Finds the top-level macros of a storage-format body. Nested macros stay
/// inside their parent's body. Malformed markup is an error, not a guess.
pub fn find_macros(body: &str) -> Result<Vec<MacroCall>, String> {
    let mut reader = Reader::from_str(body);
    let cfg = reader.config_mut();
    cfg.trim_text(false);
    cfg.check_end_names = true;
    let mut out = Vec::new();
    // The macro being read: (start offset, name, params), nesting depth of
    // structured-macro elements, and what the current text is for.
    let mut current: Reading = None;
    let mut depth = 0usize;
    let mut reading_param: Option<String> = None;
    let mut in_plain_body = false;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) if e.name().as_ref() == "ac:structured-macro" => {
                if depth == 0 {
                    current = Some((
                        before,
                        attr(&e, "ac:name").unwrap_or_default(),
                        BTreeMap::new(),
                        None,
                    ));
                }
                depth += 1;
            }
            Event::Empty(e) if e.name().as_ref() == "ac:structured-macro" && depth == 0 => {
                let after = reader.buffer_position() as usize;
                out.push(MacroCall {
                    name: attr(&e, "ac:name").unwrap_or_default(),
                    parameters: BTreeMap::new(),
                    body: None,
                    range: before..after,
                });
            }
            Event::End(e) if e.name().as_ref() == "ac:structured-macro" => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && let Some((start, name, parameters, body)) = current.take()
                {
                    out.push(MacroCall {
                        name,
                        parameters,
                        body,
                        range: start..reader.buffer_position() as usize,
                    });
                }
            }
            Event::Start(e) if depth == 1 && e.name().as_ref() == "ac:parameter" => {
                reading_param = Some(attr(&e, "ac:name").unwrap_or_default());
            }
            Event::End(e) if e.name().as_ref() == "ac:parameter" => reading_param = None,
            Event::Start(e) if depth == 1 && e.name().as_ref() == "ac:plain-text-body" => {
                in_plain_body = true
            }
            Event::End(e) if e.name().as_ref() == "ac:plain-text-body" => in_plain_body = false,
            Event::Text(t) if depth == 1 => {
                push_text(&mut current, &reading_param, in_plain_body, &t)
            }
            Event::GeneralRef(r) if depth == 1 => push_text(
                &mut current,
                &reading_param,
                in_plain_body,
                &entity_text(&r),
            ),
            Event::CData(t) if depth == 1 && in_plain_body => {
                push_text(&mut current, &None, true, &t)
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err("an <ac:structured-macro> is not closed".into());
    }
    Ok(out)
}

type Reading = Option<(usize, String, BTreeMap<String, String>, Option<String>)>;

/// Appends text to the parameter being read, or to the plain-text body.
fn push_text(current: &mut Reading, param: &Option<String>, in_plain_body: bool, text: &str) {
    let Some((_, _, params, body)) = current.as_mut() else {
        return;
    };
    if let Some(p) = param {
        params.entry(p.clone()).or_default().push_str(text);
    } else if in_plain_body {
        body.get_or_insert_with(String::new).push_str(text);
    }
}

/// Largest static-macro response accepted from an app.
pub const STATIC_MACRO_MAX_BYTES: usize = 256 * 1024;
/// How long a static macro may take.
pub const STATIC_MACRO_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads at most `cap` bytes of a response body; `Err` past the cap.
pub async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if out.len() + chunk.len() > cap {
            return Err(format!("the app's output exceeds {cap} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_top_level_macros_with_parameters_and_bodies() {
        let body = concat!(
            "<p>Intro &amp; more</p>",
            "<ac:structured-macro ac:name=\"mermaid\" ac:schema-version=\"1\"><ac:parameter ac:name=\"theme\">dark &amp; bold</ac:parameter>",
            "<ac:plain-text-body><![CDATA[graph TD; A-->B]]></ac:plain-text-body></ac:structured-macro>",
            "<p>middle</p>",
            "<ac:structured-macro ac:name=\"outer\"><ac:rich-text-body><ac:structured-macro ac:name=\"inner\"/></ac:rich-text-body></ac:structured-macro>",
            "<ac:structured-macro ac:name=\"empty\"/>"
        );
        let m = find_macros(body).unwrap();
        let names: Vec<_> = m.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["mermaid", "outer", "empty"],
            "inner stays inside outer"
        );
        assert_eq!(m[0].parameters["theme"], "dark & bold");
        assert_eq!(m[0].body.as_deref(), Some("graph TD; A-->B"));
        assert!(body[m[0].range.clone()].starts_with("<ac:structured-macro ac:name=\"mermaid\""));
        assert!(body[m[0].range.clone()].ends_with("</ac:structured-macro>"));
        assert_eq!(
            &body[m[2].range.clone()],
            "<ac:structured-macro ac:name=\"empty\"/>"
        );
    }

    #[test]
    fn refuses_broken_markup() {
        assert!(find_macros("<ac:structured-macro ac:name=\"x\">").is_err());
        assert!(find_macros("<p><ac:structured-macro ac:name=\"x\"></p>").is_err());
        assert!(find_macros("<p>plain</p>").unwrap().is_empty());
    }
}
