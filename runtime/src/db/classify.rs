//! What a statement is and which table it names, from its SQL text: the `operation` and `collection`
//! labels of every statement [`Database`](super::Database) runs.

use crate::record::SqlOperation;

/// A lexical token of SQL, as much as classification needs.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// An unquoted identifier or keyword, lower-cased.
    Word(String),
    /// A `"quoted"` identifier, lower-cased like every reported table name.
    Quoted(String),
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// `.`.
    Dot,
    /// Anything else: literals, parameters, operators, commas.
    Other,
}

impl Token {
    fn keyword(&self) -> Option<&str> {
        match self {
            Token::Word(word) => Some(word),
            _ => None,
        }
    }

    fn identifier(&self) -> Option<&str> {
        match self {
            Token::Word(name) | Token::Quoted(name) => Some(name),
            _ => None,
        }
    }
}

/// The statement's kind and the table it names, if the text shows one.
pub(super) fn classify(sql: &str) -> (SqlOperation, Option<String>) {
    let tokens = tokenize(sql);
    let Some(first) = tokens
        .iter()
        .position(|(_, token)| token.keyword().is_some())
    else {
        return (SqlOperation::Other, None);
    };
    let depth = tokens[first].0;
    let main = if tokens[first].1.keyword() == Some("with") {
        // Skip the common table expressions (parenthesized) to the statement they feed.
        let main = tokens[first + 1..].iter().position(|(at, token)| {
            *at == depth
                && matches!(
                    token.keyword(),
                    Some("select" | "insert" | "update" | "delete")
                )
        });
        match main {
            Some(offset) => first + 1 + offset,
            None => return (SqlOperation::Other, None),
        }
    } else {
        first
    };
    let rest = &tokens[main + 1..];
    match tokens[main].1.keyword() {
        Some("select") => (SqlOperation::Select, select_table(rest, depth)),
        Some("insert") => (SqlOperation::Insert, after_keyword(rest, "into")),
        Some("update") => (SqlOperation::Update, table_name(rest)),
        Some("delete") => (SqlOperation::Delete, after_keyword(rest, "from")),
        _ => (SqlOperation::Other, ddl_table(rest, depth)),
    }
}

/// The first `FROM` target of the statement itself, else of the first subquery that has one.
fn select_table(tokens: &[(usize, Token)], depth: usize) -> Option<String> {
    let from_targets = |same_depth: bool| {
        tokens
            .iter()
            .enumerate()
            .filter_map(move |(index, (at, token))| {
                let level_matches = !same_depth || *at == depth;
                (level_matches && token.keyword() == Some("from"))
                    .then(|| from_target(&tokens[index + 1..]))
                    .flatten()
            })
    };
    from_targets(true)
        .next()
        .or_else(|| from_targets(false).next())
}

/// The name after `keyword` when the statement continues with it (`INSERT INTO t`, `DELETE FROM t`).
fn after_keyword(tokens: &[(usize, Token)], keyword: &str) -> Option<String> {
    match tokens.first() {
        Some((_, token)) if token.keyword() == Some(keyword) => table_name(&tokens[1..]),
        _ => None,
    }
}

/// The table of `CREATE TABLE t`, `ALTER TABLE IF EXISTS t`, `DROP TABLE t`, `TRUNCATE t`, ….
fn ddl_table(tokens: &[(usize, Token)], depth: usize) -> Option<String> {
    let index = tokens
        .iter()
        .position(|(at, token)| *at == depth && token.keyword() == Some("table"))?;
    let mut rest = &tokens[index + 1..];
    while let Some(((_, token), tail)) = rest.split_first() {
        if !matches!(token.keyword(), Some("if" | "not" | "exists")) {
            break;
        }
        rest = tail;
    }
    table_name(rest)
}

/// A possibly schema-qualified name at the start of `tokens`, skipping `ONLY`.
fn table_name(tokens: &[(usize, Token)]) -> Option<String> {
    qualified_name(tokens).map(|(name, _)| name)
}

/// The table a `FROM` reads: a name not followed by `(`, which would make it a function call.
fn from_target(tokens: &[(usize, Token)]) -> Option<String> {
    let (name, length) = qualified_name(tokens)?;
    match tokens.get(length) {
        Some((_, Token::Open)) => None,
        _ => Some(name),
    }
}

/// A possibly schema-qualified name at the start of `tokens`, skipping `ONLY`, and how many tokens it
/// took.
fn qualified_name(tokens: &[(usize, Token)]) -> Option<(String, usize)> {
    let skipped =
        usize::from(tokens.first().and_then(|(_, token)| token.keyword()) == Some("only"));
    let mut length = skipped + 1;
    let mut name = tokens.get(skipped)?.1.identifier()?.to_owned();
    while let [(_, Token::Dot), (_, part), ..] = &tokens[length..] {
        name.push('.');
        name.push_str(part.identifier()?);
        length += 2;
    }
    Some((name, length))
}

/// Splits `sql` into tokens, each with its parenthesis depth; comments and literals are skipped so
/// that nothing inside them is mistaken for a keyword.
fn tokenize(sql: &str) -> Vec<(usize, Token)> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut depth = 0usize;
    let mut index = 0;
    while let Some(&c) = chars.get(index) {
        let next = chars.get(index + 1).copied();
        index += 1;
        let token = match c {
            c if c.is_whitespace() => continue,
            '-' if next == Some('-') => {
                while chars.get(index).is_some_and(|&c| c != '\n') {
                    index += 1;
                }
                continue;
            }
            '/' if next == Some('*') => {
                index = skip_block_comment(&chars, index + 1);
                continue;
            }
            '\'' => {
                index = skip_quoted(&chars, index, '\'', false);
                Token::Other
            }
            '"' => {
                let start = index;
                index = skip_quoted(&chars, index, '"', false);
                let end = index.saturating_sub(1).max(start);
                let text: String = chars[start..end].iter().collect();
                Token::Quoted(text.replace("\"\"", "\"").to_lowercase())
            }
            '$' => {
                index = skip_dollar(&chars, index);
                Token::Other
            }
            '(' => {
                tokens.push((depth, Token::Open));
                depth += 1;
                continue;
            }
            ')' => {
                depth = depth.saturating_sub(1);
                Token::Close
            }
            '.' if !next.is_some_and(|c| c.is_ascii_digit()) => Token::Dot,
            c if c == '_' || c.is_alphabetic() => {
                let start = index - 1;
                while chars
                    .get(index)
                    .is_some_and(|&c| c == '_' || c == '$' || c.is_alphanumeric())
                {
                    index += 1;
                }
                if matches!(c, 'e' | 'E') && index == start + 1 && next == Some('\'') {
                    // E'…': an escape string, where a backslash escapes the quote.
                    index = skip_quoted(&chars, index + 1, '\'', true);
                    Token::Other
                } else {
                    Token::Word(
                        chars[start..index]
                            .iter()
                            .collect::<String>()
                            .to_lowercase(),
                    )
                }
            }
            _ => Token::Other,
        };
        tokens.push((depth, token));
    }
    tokens
}

/// The index after the `*/` closing a comment whose body starts at `index`; comments nest in PostgreSQL.
fn skip_block_comment(chars: &[char], mut index: usize) -> usize {
    let mut nesting = 1;
    while nesting > 0 && index < chars.len() {
        match (chars[index], chars.get(index + 1)) {
            ('*', Some('/')) => {
                nesting -= 1;
                index += 2;
            }
            ('/', Some('*')) => {
                nesting += 1;
                index += 2;
            }
            _ => index += 1,
        }
    }
    index
}

/// The index after the `quote` closing a literal whose body starts at `index`; a doubled quote is part
/// of the body, and so is a backslash-escaped one when `backslash` is set.
fn skip_quoted(chars: &[char], mut index: usize, quote: char, backslash: bool) -> usize {
    while let Some(&c) = chars.get(index) {
        index += 1;
        if backslash && c == '\\' {
            index += 1;
        } else if c == quote {
            if chars.get(index) == Some(&quote) {
                index += 1;
            } else {
                break;
            }
        }
    }
    index
}

/// After a `$` at `index - 1`: skips a `$tag$…$tag$` string, or a `$1` parameter.
fn skip_dollar(chars: &[char], index: usize) -> usize {
    let tag_end = chars[index..]
        .iter()
        .position(|&c| !(c == '_' || c.is_alphanumeric()))
        .map_or(chars.len(), |offset| index + offset);
    let is_tag =
        chars.get(tag_end) == Some(&'$') && !chars.get(index).is_some_and(|c| c.is_ascii_digit());
    if !is_tag {
        return tag_end;
    }
    let delimiter = &chars[index - 1..=tag_end];
    let body = tag_end + 1;
    (body..chars.len())
        .find(|&at| chars[at..].starts_with(delimiter))
        .map_or(chars.len(), |at| at + delimiter.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sql: &str, operation: SqlOperation, table: Option<&str>) {
        assert_eq!(
            classify(sql),
            (operation, table.map(str::to_owned)),
            "classifying {sql:?}"
        );
    }

    #[test]
    fn plain_statements_report_their_keyword_and_table() {
        use SqlOperation::*;
        check("SELECT id FROM users WHERE id = $1", Select, Some("users"));
        check(
            "select * from Users u join orders o on o.user_id = u.id",
            Select,
            Some("users"),
        );
        check(
            "INSERT INTO orders (id) VALUES ($1)",
            Insert,
            Some("orders"),
        );
        check(
            "UPDATE ONLY accounts SET balance = $1",
            Update,
            Some("accounts"),
        );
        check(
            "DELETE FROM sessions WHERE expires < now()",
            Delete,
            Some("sessions"),
        );
        check("  \n\tselect 1", Select, None);
        check("SELECT pg_sleep(0.3)", Select, None);
        check("BEGIN", Other, None);
        check("", Other, None);
    }

    #[test]
    fn schema_qualified_and_quoted_names_are_kept_whole_and_lower_cased() {
        use SqlOperation::*;
        check(
            "SELECT * FROM billing.Invoices",
            Select,
            Some("billing.invoices"),
        );
        check(
            r#"SELECT * FROM "Billing"."Line ""Items""""#,
            Select,
            Some(r#"billing.line "items""#),
        );
        check(
            "insert into public . events values ($1)",
            Insert,
            Some("public.events"),
        );
    }

    #[test]
    fn comments_literals_and_parameters_hide_nothing() {
        use SqlOperation::*;
        check(
            "-- FROM nowhere\n/* UPDATE x /* nested */ */ SELECT 'FROM a' FROM b",
            Select,
            Some("b"),
        );
        check(
            "SELECT E'it\\'s FROM x', $$ FROM y $$, $tag$ FROM $$ z $tag$ FROM c",
            Select,
            Some("c"),
        );
        check("SELECT $1::int FROM d WHERE e = $2", Select, Some("d"));
        check("SELECT 'a''FROM f' FROM g", Select, Some("g"));
    }

    #[test]
    fn the_main_statement_wins_over_subqueries_and_ctes() {
        use SqlOperation::*;
        check(
            "WITH recent AS (SELECT * FROM orders) DELETE FROM carts WHERE id IN (SELECT cart_id FROM recent)",
            Delete,
            Some("carts"),
        );
        check(
            "WITH RECURSIVE t(n) AS (VALUES (1)) SELECT n FROM t",
            Select,
            Some("t"),
        );
        check(
            "SELECT (SELECT count(*) FROM a), extract(year FROM now()) FROM b",
            Select,
            Some("b"),
        );
        check(
            "SELECT * FROM (SELECT * FROM inner_table) AS sub",
            Select,
            Some("inner_table"),
        );
        check(
            "(SELECT id FROM a) UNION (SELECT id FROM b)",
            Select,
            Some("a"),
        );
        check("SELECT * FROM generate_series(1, 3)", Select, None);
        check("WITH x AS (SELECT 1)", Other, None);
    }

    #[test]
    fn ddl_reports_the_table_it_changes() {
        use SqlOperation::*;
        check(
            "CREATE TABLE IF NOT EXISTS widgets (id int)",
            Other,
            Some("widgets"),
        );
        check(
            "DROP TABLE IF EXISTS app.widgets",
            Other,
            Some("app.widgets"),
        );
        check("TRUNCATE TABLE logs", Other, Some("logs"));
        check("CREATE INDEX ON widgets (id)", Other, None);
    }
}
