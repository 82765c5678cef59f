//! The command line itself: completions and the manual page, generated from
//! the same definitions that parse the arguments.

use crate::support::bluegreen;

#[test]
fn completions_for_every_shell_know_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = bluegreen(None, &["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for command in ["apply", "rollback", "status", "unlock", "auto-approve"] {
            assert!(
                run.stdout.contains(command),
                "{shell} completions lack {command}"
            );
        }
    }
    let run = bluegreen(None, &["completions", "tcsh"]);
    assert_eq!(run.code, 1, "an unknown shell is bad input: {}", run.stderr);
}

#[test]
fn the_manual_page_describes_the_tool() {
    let run = bluegreen(None, &["man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(".ie"),
        "roff: {}",
        &run.stdout[..40.min(run.stdout.len())]
    );
    assert!(run.stdout.contains(".TH bluegreen 1"));
    for command in [
        "validate", "plan", "apply", "rollback", "shift", "finalize", "destroy",
    ] {
        assert!(
            run.stdout.contains(command),
            "the manual page lacks {command}"
        );
    }
}
