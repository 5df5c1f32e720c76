//! The minijinja environment shared by the template-based emitters; templates are compiled into the binary.

use minijinja::{Environment, UndefinedBehavior};

/// Templates under `templates/`, by name.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "metrics.rs.j2",
        include_str!("../../templates/metrics.rs.j2"),
    ),
    (
        "service.md.j2",
        include_str!("../../templates/service.md.j2"),
    ),
    ("index.md.j2", include_str!("../../templates/index.md.j2")),
];

/// An environment with strict undefined values, kept trailing newlines, no auto-escaping.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .expect("templates under templates/ parse; a test renders each");
    }
    env
}
