//! The product starts on its default manifest and answers the staff API.

use e2e::{json, App};

#[test]
fn staff_api_requires_the_token_and_imports_properties() {
    let app = App::start();
    assert_eq!(app.get("/api/tenants/t1").status().as_u16(), 401);
    let (status, body) = app.import(
        "properties",
        "property_id,name,time_zone,state,country\np1,Main St Storage,America/New_York,NY,US\np2,Bad,Mars/Base,NY,US\n",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], json!(1));
    assert_eq!(body["rejected"][0]["line"], json!(3));
    let (status, _) = app.staff_get("/api/tenants/nobody");
    assert_eq!(status, 404);
}
