//! Option names in library messages. A message names the option a user gave (or should give)
//! as `⟨name⟩` (kebab-case), and each front end spells it its own way: the command line as
//! `--name`, the Python module as the keyword `name` (with underscores). Libraries thus never
//! assume which front end called them.

/// The marker of option `name` in a message: `⟨name⟩`.
pub fn option(name: &str) -> String {
    format!("⟨{name}⟩")
}

/// `message` with every `⟨name⟩` replaced by `spell(name)`; text without markers is returned
/// unchanged.
pub fn spell_options(message: &str, spell: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find('⟨') {
        let after = &rest[start + '⟨'.len_utf8()..];
        let Some(end) = after.find('⟩') else { break };
        out.push_str(&rest[..start]);
        out.push_str(&spell(&after[..end]));
        rest = &after[end + '⟩'.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// The command line's spelling: `--name`.
pub fn as_flag(name: &str) -> String {
    format!("--{name}")
}

/// The Python module's spelling: the keyword argument `name`, `-` as `_`.
pub fn as_keyword(name: &str) -> String {
    name.replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_spelled_by_the_front_end_and_other_text_is_kept() {
        let message = format!(
            "{} and {} belong to {} edm",
            option("rho"),
            option("churn-noise"),
            option("sampler")
        );
        assert_eq!(
            spell_options(&message, as_flag),
            "--rho and --churn-noise belong to --sampler edm"
        );
        assert_eq!(
            spell_options(&message, as_keyword),
            "rho and churn_noise belong to sampler edm"
        );
        assert_eq!(
            spell_options("σ ≥ 0, no option", as_flag),
            "σ ≥ 0, no option"
        );
        assert_eq!(spell_options("an open ⟨marker", as_flag), "an open ⟨marker");
    }
}
