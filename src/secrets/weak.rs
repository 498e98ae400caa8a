//! Why a password is weak, for `status`: too short, too little entropy for its length and
//! alphabet, a common pattern (dictionary words such as `pass`, digit runs such as `123`, the
//! workload's own name as in the seed's `auth_pass123`), or characters outside bakeryc's
//! alphabet. Reasons name the rule, never a part of the password, since the report is printed.

use super::MIN_PASSWORD_LEN;

/// Generated passwords have 40 × 6 = 240 bits; below this an imported one is reported.
const MIN_ENTROPY_BITS: f64 = 128.0;

/// Fragments that make a password guessable, lowercase.
const COMMON: &[&str] = &[
    "pass", "pwd", "secret", "admin", "root", "changeme", "default", "qwerty", "letmein",
    "welcome", "postgres", "redis", "user", "test", "123", "abc", "000", "111",
];

/// Bakeryc's password alphabet (URL- and config-safe without quoting).
fn in_alphabet(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Every reason `password` is weak, empty when it is not; `names` are the workload's own names
/// (declared, workload, role), which a password should not contain.
pub fn weaknesses(password: &str, names: &[String]) -> Vec<String> {
    let mut reasons = Vec::new();
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        reasons.push(format!(
            "{length} characters, fewer than {MIN_PASSWORD_LEN}"
        ));
    }
    let bits = entropy_bits(password);
    if bits < MIN_ENTROPY_BITS {
        reasons.push(format!(
            "about {bits:.0} bits of entropy for its length and characters, fewer than {MIN_ENTROPY_BITS:.0}"
        ));
    }
    let own: Vec<String> = names
        .iter()
        .flat_map(|n| n.split(['-', '_']))
        .filter(|part| part.len() >= 3)
        .map(str::to_ascii_lowercase)
        .collect();
    let fragments = COMMON.iter().copied().chain(own.iter().map(String::as_str));
    if pattern_share(password, fragments) * 4 >= password.len() || repetitive(password) {
        reasons.push(
            "a common pattern (a dictionary word, the workload's own name, a digit run or a repeated character)"
                .to_owned(),
        );
    }
    if !password.chars().all(in_alphabet) {
        reasons.push("characters outside A-Z a-z 0-9 - _".to_owned());
    }
    reasons
}

/// How many bytes of `password` lie in a known fragment (ASCII case ignored). A random
/// password may hold one short fragment by chance; the seed's `auth_pass123` is nothing else.
fn pattern_share<'a>(password: &str, fragments: impl Iterator<Item = &'a str>) -> usize {
    let lower = password.to_ascii_lowercase();
    let mut covered = vec![false; lower.len()];
    for fragment in fragments {
        for (at, _) in lower.match_indices(fragment) {
            covered[at..at + fragment.len()].fill(true);
        }
    }
    covered.iter().filter(|c| **c).count()
}

/// A character class and its size.
type CharClass = (fn(char) -> bool, f64);

/// length × log2(size of the character classes used): an upper bound, which is the point (a
/// password that fails even this is weak whatever its construction).
fn entropy_bits(password: &str) -> f64 {
    let classes: [CharClass; 4] = [
        (|c| c.is_ascii_lowercase(), 26.0),
        (|c| c.is_ascii_uppercase(), 26.0),
        (|c| c.is_ascii_digit(), 10.0),
        (|c| !c.is_ascii_alphanumeric(), 33.0),
    ];
    let pool: f64 = classes
        .iter()
        .filter(|(class, _)| password.chars().any(class))
        .map(|(_, size)| size)
        .sum();
    let length = u32::try_from(password.chars().count()).unwrap_or(u32::MAX);
    if pool <= 1.0 {
        return 0.0;
    }
    f64::from(length) * pool.log2()
}

/// A quarter or more of the password is one character, or it is one character repeated.
fn repetitive(password: &str) -> bool {
    let chars: Vec<char> = password.chars().collect();
    let most = chars
        .iter()
        .map(|c| chars.iter().filter(|d| *d == c).count())
        .max()
        .unwrap_or(0);
    !chars.is_empty() && most * 4 >= chars.len().max(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["auth".into(), "auth-db".into(), "auth_user".into()]
    }

    #[test]
    fn the_seeds_passwords_are_weak() {
        let reasons = weaknesses("auth_pass123", &names());
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(
            !reasons
                .iter()
                .any(|r| r.contains("auth") || r.contains("pass1"))
        );
        // Long is not enough: a long password made of a pattern is still weak.
        assert!(!weaknesses("auth_password_auth_password_12345", &names()).is_empty());
        assert!(!weaknesses(&"a".repeat(40), &names()).is_empty());
    }

    #[test]
    fn generated_passwords_are_not() {
        for _ in 0..50 {
            let password = super::super::issue::password().unwrap();
            assert_eq!(
                weaknesses(&password, &names()),
                Vec::<String>::new(),
                "{password}"
            );
        }
    }

    /// The rules a password breaks, by name, from `weaknesses`' reasons.
    fn broken(password: &str, names: &[String]) -> Vec<&'static str> {
        weaknesses(password, names)
            .iter()
            .map(|reason| {
                if reason.contains("entropy") {
                    "entropy"
                } else if reason.contains("common pattern") {
                    "pattern"
                } else if reason.contains("outside") {
                    "alphabet"
                } else if reason.contains("characters, fewer than") {
                    "length"
                } else {
                    panic!("unknown reason {reason}")
                }
            })
            .collect()
    }

    /// Letters of both cases and digits, no fragment, no character twice: on its own it breaks
    /// no rule once it is long enough.
    const MIXED: &str = "Xk9fQ2mZr7LwT4bVn8HsJ6dYc3GpE5uKo1";

    /// Digits only (about 3.3 bits each), no run such as `123`, no digit more than four times.
    const DIGITS: &str = "9758206431975820643197582064319758206431";

    /// Each rule on its own, at its edge: one character, bit, fragment byte or repetition less
    /// and the password passes that rule.
    #[test]
    fn each_rule_is_reported_from_its_edge_and_not_before() {
        let none: &[&str] = &[];
        let names = names();
        // Length: 32 characters pass, 31 do not.
        assert_eq!(broken(&MIXED[..32], &names), none);
        assert_eq!(broken(&MIXED[..31], &names), ["length"]);
        assert!(weaknesses(&MIXED[..31], &names)[0].starts_with("31 characters"));
        // Entropy: 39 digits are about 130 bits, 38 about 126.
        assert_eq!(broken(&DIGITS[..39], &names), none);
        assert_eq!(broken(&DIGITS[..38], &names), ["entropy"]);
        // Patterns: a quarter of the password in known fragments (ASCII case ignored) is weak,
        // one byte less is not.
        let quarter = format!("{}SECRETroot", &MIXED[..30]);
        assert_eq!(broken(&quarter, &names), ["pattern"]);
        assert_eq!(broken(&format!("{}secretPwd", &MIXED[..31]), &names), none);
        // The workload's own name is such a fragment (parts of three characters or more),
        // whoever else's is not.
        let orders: Vec<String> = vec!["orders".into(), "orders-db".into(), "orders_user".into()];
        let own = format!("{}OrdersOrders", &MIXED[..30]);
        assert_eq!(broken(&own, &orders), ["pattern"]);
        assert_eq!(broken(&own, &names), none);
        // Repetition: a quarter of the password one character is weak, one less is not.
        assert_eq!(
            broken(&format!("{}{}", &MIXED[..30], "z".repeat(10)), &names),
            ["pattern"]
        );
        assert_eq!(
            broken(&format!("{}{}", &MIXED[..31], "z".repeat(9)), &names),
            none
        );
        // Alphabet: `-` and `_` belong to it; anything else does not.
        assert_eq!(broken(&format!("{}-_", &MIXED[..32]), &names), none);
        for outside in ["!", " ", "$", "é", "/"] {
            assert_eq!(
                broken(&format!("{}{outside}", &MIXED[..32]), &names),
                ["alphabet"],
                "{outside:?}"
            );
        }
    }
}
