mod common;
use testbed_registry::*;

#[test]
fn token_probe() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(RegistryConfig {
        auth: Auth::gitlab_ci("s3cret"),
        ..Default::default()
    })
    .unwrap();
    let mut c = common::RegClient::new(&reg);
    common::roundtrip(&mut c, "group/project");
    eprintln!("{}", reg.log_tail(20));
}
