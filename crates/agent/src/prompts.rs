//! The prompts of the multi-agent teacher and the judge: shipped as text files (the crate's
//! `prompts/` folder, compiled in) that a user can override one by one from a folder of their
//! own.
//!
//! Placeholders: planner `{question}`, `{answer_rule}` (whether it may answer without
//! searching); rewriter `{thought}`; observer `{question}`, `{progress}` (the sub-questions
//! searched so far, the masks to fill), `{thoughts}`, `{observation}`; judge `{question}`,
//! `{answer}`, `{response}` (the final reply, thinking included, as the original's judge reads
//! it).

use std::path::Path;

use crate::AgentError;

/// Every prompt the teachers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompts {
    pub planner: String,
    pub rewriter: String,
    pub observer: String,
    pub judge: String,
}

/// The file name of each prompt, in a prompts folder.
const FILES: [&str; 4] = ["planner.txt", "rewriter.txt", "observer.txt", "judge.txt"];

impl Default for Prompts {
    fn default() -> Self {
        Prompts {
            planner: include_str!("../prompts/planner.txt").to_string(),
            rewriter: include_str!("../prompts/rewriter.txt").to_string(),
            observer: include_str!("../prompts/observer.txt").to_string(),
            judge: include_str!("../prompts/judge.txt").to_string(),
        }
    }
}

impl Prompts {
    /// The defaults, with every file of `dir` named like a prompt (`planner.txt`,
    /// `rewriter.txt`, `observer.txt`, `judge.txt`) in its place. Any other file in `dir` is an
    /// error, so a misspelt name does not silently leave the default in use.
    pub fn load(dir: &Path) -> Result<Prompts, AgentError> {
        let io = |e| AgentError::io(dir, e);
        let mut prompts = Prompts::default();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let slot = match name.as_str() {
                "planner.txt" => &mut prompts.planner,
                "rewriter.txt" => &mut prompts.rewriter,
                "observer.txt" => &mut prompts.observer,
                "judge.txt" => &mut prompts.judge,
                _ => {
                    return Err(AgentError::UnknownPrompt {
                        path,
                        expected: FILES.join(", "),
                    });
                }
            };
            *slot = std::fs::read_to_string(&path).map_err(|error| AgentError::io(&path, error))?;
        }
        Ok(prompts)
    }

    /// A short, stable fingerprint of all prompt texts, for run manifests.
    pub fn fingerprint(&self) -> String {
        let all = [&self.planner, &self.rewriter, &self.observer, &self.judge]
            .map(|s| s.as_str())
            .join("\u{0}");
        format!("{:016x}", formats::stable_hash(&all))
    }
}

/// `template` with each `{name}` replaced by its value (one pass: a value is never scanned for
/// placeholders, so model text cannot inject one).
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    'scan: while let Some(open) = rest.find('{') {
        for (name, value) in values {
            if rest[open + 1..].starts_with(name) && rest[open + 1 + name.len()..].starts_with('}')
            {
                out.push_str(&rest[..open]);
                out.push_str(value);
                rest = &rest[open + name.len() + 2..];
                continue 'scan;
            }
        }
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_once_and_leaves_json_braces() {
        let t = r#"Q: {question} -> {"queries": ["a"]} {question}"#;
        assert_eq!(
            fill(t, &[("question", "{question} x")]),
            r#"Q: {question} x -> {"queries": ["a"]} {question} x"#
        );
    }

    #[test]
    fn every_default_prompt_has_its_placeholders() {
        let p = Prompts::default();
        for name in ["{question}", "{answer_rule}"] {
            assert!(p.planner.contains(name), "{name}");
        }
        assert!(p.rewriter.contains("{thought}"));
        for name in ["{question}", "{progress}", "{thoughts}", "{observation}"] {
            assert!(p.observer.contains(name), "{name}");
        }
        for name in ["{question}", "{answer}", "{response}"] {
            assert!(p.judge.contains(name), "{name}");
        }
    }

    #[test]
    fn a_folder_overrides_by_name_and_rejects_unknown_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("judge.txt"), "Grade {response}").unwrap();
        let p = Prompts::load(dir.path()).unwrap();
        assert_eq!(p.judge, "Grade {response}");
        assert_eq!(p.planner, Prompts::default().planner);
        assert_ne!(p.fingerprint(), Prompts::default().fingerprint());
        std::fs::write(dir.path().join("judge.md"), "x").unwrap();
        assert!(matches!(
            Prompts::load(dir.path()),
            Err(AgentError::UnknownPrompt { .. })
        ));
    }
}
