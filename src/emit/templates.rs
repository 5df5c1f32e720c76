//! The minijinja environment shared by the template-based emitters; templates are compiled into the binary.

use std::sync::OnceLock;

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

/// The environment, compiled once per process: with strict undefined values, kept trailing newlines and no
/// auto-escaping. Compiling it for every service was a tenth of the generator's time on large specs.
pub fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(compile)
}

fn compile() -> Environment<'static> {
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
