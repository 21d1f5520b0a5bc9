// live agent: filled in by live.rs's page
