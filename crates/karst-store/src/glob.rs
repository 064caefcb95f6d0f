//! Redis's glob matching (`stringmatchlen` in `util.c`): `*`, `?`, `[abc]`, `[^a]`, `[a-z]`,
//! `\x`. Ported branch for branch, with bounds checks instead of reads past the end.

/// True if `s` matches `pattern`.
pub(crate) fn matches(pattern: &[u8], s: &[u8]) -> bool {
    let mut skip = false;
    match_impl(pattern, s, &mut skip, 0)
}

fn match_impl(mut p: &[u8], mut s: &[u8], skip_longer: &mut bool, depth: usize) -> bool {
    // Patterns nest only through `*`; bound the recursion like Redis 7.2 does.
    if depth > 1000 {
        return false;
    }
    while let (Some(&pc), Some(&sc)) = (p.first(), s.first()) {
        match pc {
            b'*' => {
                while p.get(1) == Some(&b'*') {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_impl(&p[1..], s, skip_longer, depth + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                s = &s[1..];
            }
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut hit = false;
                loop {
                    match p.first() {
                        Some(b'\\') if p.len() >= 2 => {
                            p = &p[1..];
                            if p.first() == Some(&sc) {
                                hit = true;
                            }
                        }
                        Some(b']') => break,
                        None => break,
                        Some(&start) if p.len() >= 3 && p.get(1) == Some(&b'-') => {
                            let end = p.get(2).copied().unwrap_or(0);
                            let (lo, hi) = if start > end { (end, start) } else { (start, end) };
                            p = &p[2..];
                            if sc >= lo && sc <= hi {
                                hit = true;
                            }
                        }
                        Some(&c) => {
                            if c == sc {
                                hit = true;
                            }
                        }
                    }
                    p = &p[1..];
                }
                if not {
                    hit = !hit;
                }
                if !hit {
                    return false;
                }
                s = &s[1..];
            }
            _ => {
                if pc == b'\\' && p.len() >= 2 {
                    p = &p[1..];
                }
                if p.first() != Some(&sc) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = p.get(1..).unwrap_or_default();
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_rules() {
        let yes: &[(&str, &str)] = &[
            ("*", "anything"),
            ("h?llo", "hello"),
            ("h*llo", "heeeello"),
            ("h[ae]llo", "hallo"),
            ("h[^e]llo", "hallo"),
            ("h[a-b]llo", "hbllo"),
            ("h[b-a]llo", "hallo"),
            ("h\\*llo", "h*llo"),
            ("a*b*c", "aXXbYYc"),
            ("[\\]]", "]"),
            ("user:*", "user:1"),
            ("*:*", "a:b"),
        ];
        for (p, s) in yes {
            assert!(matches(p.as_bytes(), s.as_bytes()), "{p} {s}");
        }
        let no: &[(&str, &str)] = &[
            ("h?llo", "hllo"),
            ("h[^e]llo", "hello"),
            ("h[a-b]llo", "hcllo"),
            ("h\\*llo", "hello"),
            ("a*b", "aXXc"),
            ("?", ""),
            ("*", ""),
            ("[abc", "d"),
            ("", "a"),
        ];
        for (p, s) in no {
            assert!(!matches(p.as_bytes(), s.as_bytes()), "{p} {s}");
        }
        // Unbalanced and trailing escapes never panic.
        for p in ["[", "\\", "[^", "[a-", "*[", "a\\"] {
            let _ = matches(p.as_bytes(), b"a");
            let _ = matches(p.as_bytes(), b"");
        }
    }
}
