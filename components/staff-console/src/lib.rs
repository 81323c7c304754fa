//! Staff console component: the console page (`/console`, public HTML and
//! script, no data) from `rentmsg::staff::console`, and the staff API's
//! console routes (`rentmsg::api::CONSOLE`: the pages' reads, accounts,
//! settings) through `rentmsg::api::component`.

use rentmsg::api::{self, NextPass};
use rentmsg::staff::console;
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    let started = std::time::Instant::now();
    let path = req.path_with_query().unwrap_or_default();
    if !console::is_console_path(&path) {
        return api::component::serve(&api::CONSOLE, req, &NextPass).await;
    }
    let method = req.method().to_string();
    let page = console::serve(&method, &path);
    let fields = serde_json::json!({
        "method": method,
        "route": "/console",
        "status": page.status,
        "ms": started.elapsed().as_millis() as u64,
    });
    rentmsg::base::log::line(api::CONSOLE.component, &fields);
    page.into_spin()
}
