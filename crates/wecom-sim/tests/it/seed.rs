//! Seed files: the sample, TOML and JSON loading, validation, and the demo ids.

use wecom_sim::{CUSTOMER_CORP_ID, DEMO_CORP_ID, PROVIDER_CORP_ID, Seed, SeedError};

#[test]
fn the_sample_seed_parses() {
    let seed = Seed::from_toml_str(include_str!("../../seed.sample.toml")).unwrap();
    assert!(!seed.corps.is_empty());
    assert!(!seed.templates.is_empty());
    assert!(!seed.providers.is_empty());
}

#[test]
fn seeds_load_from_toml_and_json_files() {
    let dir = std::env::temp_dir().join(format!("wecom-sim-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let toml_path = dir.join("seed.toml");
    std::fs::write(&toml_path, include_str!("../../seed.sample.toml")).unwrap();
    let from_toml = Seed::from_file(&toml_path).unwrap();
    let json_path = dir.join("seed.json");
    std::fs::write(&json_path, serde_json::to_string(&from_toml).unwrap()).unwrap();
    assert_eq!(Seed::from_file(&json_path).unwrap(), from_toml);
    let other = dir.join("seed.yaml");
    std::fs::write(&other, "").unwrap();
    assert!(matches!(Seed::from_file(&other), Err(SeedError::UnsupportedFormat(_))));
    assert!(matches!(Seed::from_file(&dir.join("missing.toml")), Err(SeedError::Io { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalid_seeds_are_rejected_with_a_reason() {
    let cases = [
        ("[[corps]]\ncorp_id = \"xx1\"\nname = \"A\"\n", "must start with ww"),
        (
            "[[corps]]\ncorp_id = \"ww1\"\nname = \"A\"\n[[corps.members]]\nuserid = \"a\"\nname = \"A\"\ndepartment = [9]\n",
            "unknown department",
        ),
        (
            "[[templates]]\ntemplate_id = \"tpl\"\ntemplate_secret = \"s\"\ntoken = \"t\"\nencoding_aes_key = \"XLJuoL1QEBZ3Ryad56nVo4YjMV0TsvJrfomPsDX4eTc\"\nprovider_corp_id = \"ww9\"\ntrusted_domain = \"a.com\"\n",
            "must start with dk",
        ),
        (
            "[[templates]]\ntemplate_id = \"dk1\"\ntemplate_secret = \"s\"\ntoken = \"t\"\nencoding_aes_key = \"short\"\nprovider_corp_id = \"ww9\"\ntrusted_domain = \"a.com\"\n",
            "43 base64",
        ),
        ("[[corps]]\ncorp_id = \"ww1\"\nnmae = \"typo\"\n", "unknown field"),
    ];
    for (toml, expected) in cases {
        let err = Seed::from_toml_str(toml).unwrap_err().to_string();
        assert!(err.contains(expected), "{err} should mention {expected}");
    }
}

#[test]
fn the_demo_seed_has_the_documented_ids() {
    let seed = Seed::demo();
    seed.validate().unwrap();
    assert_eq!(seed.corps[0].corp_id, DEMO_CORP_ID);
    assert_eq!(seed.corps[1].corp_id, CUSTOMER_CORP_ID);
    assert_eq!(seed.corps[0].apps[0].agent_id, 1000002);
    assert_eq!(seed.corps[0].apps[0].trusted_domain, "127.0.0.1:8080");
    assert_eq!(seed.templates[0].template_id, "dkdemo0000000001");
    assert_eq!(seed.templates[0].provider_corp_id, PROVIDER_CORP_ID);
    assert_eq!(seed.providers[0].corp_id, PROVIDER_CORP_ID);
    assert_eq!(seed.providers[0].suites[0].suite_id, "wwdemosuite00001");
    assert!(seed.corps[0].members.len() >= 5);
}
