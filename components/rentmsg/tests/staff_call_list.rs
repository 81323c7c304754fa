//! The call list's server-side filters and cursor paging, promises due
//! today on it and on the start page, and the start page's callable-now
//! figure, natively. The clock reads Sunday 2024-03-10 16:00 UTC: 12:00 in
//! New York (EDT from that morning), 06:00 on 2024-03-11 in Kiritimati.

mod common;

use rentmsg::base::db::Db;
use common::Env;
use serde_json::{json, Value as Json};

fn post(env: &Env, path: &str, body: &Json) -> rentmsg::base::http::Response {
    env.send("POST", path, Some("application/json"), body.to_string().as_bytes())
}

fn ids(page: &Json) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|i| i["tenant_id"].as_str().unwrap().to_owned()).collect()
}

fn entry<'a>(list: &'a Json, tenant: &str) -> &'a Json {
    list["items"].as_array().unwrap().iter().find(|i| i["tenant_id"] == json!(tenant)).unwrap_or_else(|| panic!("{tenant} not on {list}"))
}

/// Every page of `query` (with `limit`), following `next`.
fn walk(env: &Env, query: &str, limit: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            None => format!("/api/call-list?limit={limit}{query}"),
            Some(c) => format!("/api/call-list?limit={limit}{query}&after={c}"),
        };
        let page = env.get_ok(&path);
        pages.push(ids(&page));
        match page["next"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => return pages,
        }
        assert!(pages.len() < 50, "paging does not end");
    }
}

/// One property in New York (Massachusetts rules); toll-free numbers, so
/// only the tenant's zone sets the calling window. Debts (due date, balance):
/// C 02-01 $800, A and B 02-01 $500, D 02-20, E and F 03-01 $700, G 03-05,
/// H 03-09, K 03-10 in Kiritimati (its 03-11: one day), Z 03-10 in New York
/// (0 days: not listed), S owes less than the $25 minimum.
fn seed(env: &Env) {
    env.import_ok("properties", "property_id,name,time_zone,state,country\nP1,Maple Court,America/New_York,MA,US\n");
    let mut tenants = String::from("tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n");
    for (i, (id, zone)) in [("A", ""), ("B", ""), ("C", ""), ("D", ""), ("E", ""), ("F", ""), ("G", ""), ("H", ""), ("K", "Pacific/Kiritimati"), ("Z", ""), ("S", "")].iter().enumerate() {
        tenants.push_str(&format!("{id},P1,Tenant {id},{i},(888) 555-01{i:02},,,,,,,{zone},\n"));
    }
    env.import_ok("tenants", &tenants);
    let mut ledger = String::from("tenant_id,date,due_date,kind,amount,reference\n");
    for (id, due, amount) in [
        ("A", "2024-02-01", "500.00"),
        ("B", "2024-02-01", "500.00"),
        ("C", "2024-02-01", "800.00"),
        ("D", "2024-02-20", "300.00"),
        ("E", "2024-03-01", "700.00"),
        ("F", "2024-03-01", "700.00"),
        ("G", "2024-03-05", "100.00"),
        ("H", "2024-03-09", "50.00"),
        ("K", "2024-03-10", "60.00"),
        ("Z", "2024-03-10", "90.00"),
        ("S", "2024-03-01", "20.00"),
    ] {
        ledger.push_str(&format!("{id},{due},{due},charge,{amount},R-{id}\n"));
    }
    env.import_ok("ledger", &ledger);
}

/// The whole list in its order, worked out from the seed: oldest debt
/// first, then the larger balance, then the tenant id.
const ORDER: [&str; 9] = ["C", "A", "B", "D", "E", "F", "G", "H", "K"];

#[test]
fn cursor_pages_are_slices_of_the_whole_ordered_list_and_offset_still_works() {
    let env = Env::new();
    seed(&env);
    let all = env.get_ok("/api/call-list?limit=100");
    assert_eq!(ids(&all), ORDER, "{all}");
    assert_eq!(all["total"], json!(9), "K counts (its date is a day on), Z and S do not");
    assert!(all["next"].is_null());
    assert_eq!(all["stopped_at_bound"], json!(false));
    let k = entry(&all, "K");
    assert_eq!((k["days_past_due"].clone(), k["stage"].clone()), (json!(1), json!(1)));
    for limit in [1, 2, 4] {
        let pages = walk(&env, "", limit);
        let expected: Vec<Vec<String>> = ORDER.chunks(limit).map(|c| c.iter().map(|s| s.to_string()).collect()).collect();
        assert_eq!(pages, expected, "pages of {limit}");
    }
    // A page after a cursor is the slice after that tenant.
    let first = env.get_ok("/api/call-list?limit=3");
    assert_eq!(ids(&first), ["C", "A", "B"]);
    let second = env.get_ok(&format!("/api/call-list?limit=3&after={}", first["next"].as_str().unwrap()));
    assert_eq!(ids(&second), ["D", "E", "F"]);
    assert_eq!(second["total"], json!(9));
    // With the count restarting at a payment the debt date is computed, not
    // the stored column the order index holds; no one here has paid, so
    // the list and its pages are the same.
    env.db.execute("UPDATE notice_schedule SET spec = json_set(spec, '$.reset_after_any_payment', json('true'))", &[]).unwrap();
    for limit in [1, 4] {
        let expected: Vec<Vec<String>> = ORDER.chunks(limit).map(|c| c.iter().map(|s| s.to_string()).collect()).collect();
        assert_eq!(walk(&env, "", limit), expected, "pages of {limit}, count restarting at a payment");
    }
    env.db.execute("UPDATE notice_schedule SET spec = json_set(spec, '$.reset_after_any_payment', json('false'))", &[]).unwrap();
    // Offset, as existing callers page.
    assert_eq!(ids(&env.get_ok("/api/call-list?limit=3&offset=3")), ["D", "E", "F"]);
    assert_eq!(ids(&env.get_ok("/api/call-list?limit=2&offset=7")), ["H", "K"]);
    // Bad paging input is refused clearly.
    for bad in ["after=nonsense", "after=2024-02-01.x.A", "offset=2&callable=true", "offset=1&after=2024-02-01.50000.A", "stage=9", "stage=two", "callable=yes"] {
        let r = env.get(&format!("/api/call-list?{bad}"));
        assert_eq!(r.status, 400, "{bad}: {}", String::from_utf8_lossy(&r.body));
    }
}

#[test]
fn stage_and_callable_filters_apply_to_the_whole_list() {
    let env = Env::new();
    seed(&env);
    // A: a conversation puts the tenant on hold for a week. G: a promise
    // for today ($50). K: a promise for its today (03-11), the balance.
    // H: a promise for Tuesday.
    for (id, body) in [
        ("A", json!({"result_code": 101})),
        ("G", json!({"result_code": 101, "promise": {"date": "2024-03-10", "amount_cents": 5000}})),
        ("K", json!({"result_code": 101, "override_reason": "tenant called back early", "promise": {"date": "2024-03-11"}})),
        ("H", json!({"result_code": 101, "promise": {"date": "2024-03-12"}})),
    ] {
        let r = post(&env, &format!("/api/tenants/{id}/calls"), &body);
        assert_eq!(r.status, 201, "{id}: {}", r.body_json());
    }
    // Days past due (New York 03-10): C A B 38, D 19, E F 9, G 5, H 1; K 1.
    let stage = |n: i64| env.get_ok(&format!("/api/call-list?stage={n}&limit=100"));
    assert_eq!(ids(&stage(5)), ["C", "A", "B"]);
    assert_eq!(ids(&stage(4)), ["D"]);
    assert_eq!(ids(&stage(3)), Vec::<String>::new());
    assert_eq!(ids(&stage(2)), ["E", "F", "G"]);
    assert_eq!(ids(&stage(1)), ["H", "K"]);
    for (n, total) in [(5, 3), (4, 1), (3, 0), (2, 3), (1, 2)] {
        assert_eq!(stage(n)["total"], json!(total), "stage {n}");
    }
    // Callable now: not A (hold), G, H, K (held after the call, K also
    // before 08:00 local), so C B D E F; pages of two read on past them.
    assert_eq!(walk(&env, "&callable=true", 2), [vec!["C", "B"], vec!["D", "E"], vec!["F"]]);
    let page = env.get_ok("/api/call-list?callable=true&limit=100");
    assert!(page["items"].as_array().unwrap().iter().all(|i| i["callable"] == json!(true)), "{page}");
    assert_eq!(page["callable"], json!(5));
    assert_eq!(page["stopped_at_bound"], json!(false));
    assert_eq!(ids(&env.get_ok("/api/call-list?callable=true&stage=2")), ["E", "F"]);
    assert_eq!(ids(&env.get_ok("/api/call-list?callable=false&stage=4")), ["D"]);

    // Promises due today, each in the tenant's own date.
    let all = env.get_ok("/api/call-list?limit=100");
    assert_eq!(entry(&all, "G")["promise_due_today"], json!({"tenant_id": "G", "promised_date": "2024-03-10", "amount_cents": 5000, "due_at": "2024-03-11T04:00:00.000Z", "time_zone": "America/New_York"}));
    let k = &entry(&all, "K")["promise_due_today"];
    assert_eq!((k["promised_date"].clone(), k["amount_cents"].clone()), (json!("2024-03-11"), json!(6000)), "{k}");
    for id in ["A", "B", "C", "D", "E", "F", "H"] {
        assert!(entry(&all, id)["promise_due_today"].is_null(), "{id}");
    }
    // The start page counts the same two, whatever zone it is read in, and
    // its callable-now figure is the callable list, exactly.
    for zone in ["America/New_York", "Pacific/Kiritimati"] {
        let today = env.get_ok(&format!("/api/today?zone={zone}"));
        let fig = |k: &str| today["figures"].as_array().unwrap().iter().find(|f| f["key"] == k).unwrap().clone();
        let due = fig("promises_due_today");
        assert_eq!(due["count"], json!(2), "{zone}: {due}");
        let due_ids: Vec<&str> = due["items"].as_array().unwrap().iter().map(|i| i["tenant_id"].as_str().unwrap()).collect();
        assert_eq!(due_ids, ["G", "K"]);
        let callable = fig("callable_now");
        assert_eq!((callable["count"].clone(), callable["at_least"].clone()), (json!(5), json!(false)), "{callable}");
        let callable_ids: Vec<&str> = callable["items"].as_array().unwrap().iter().map(|i| i["tenant_id"].as_str().unwrap()).collect();
        assert_eq!(callable_ids, ["C", "B", "D", "E", "F"]);
        assert_eq!(fig("replies_waiting")["at_least"], json!(false));
    }
}

#[test]
fn the_callable_filter_stops_at_its_bound_and_says_so() {
    let env = Env::new();
    env.import_ok("properties", "property_id,name,time_zone,state,country\nP1,Maple Court,America/New_York,MA,US\n");
    // More tenants than one request decides about, all before 08:00 in
    // Kiritimati (not callable now) and owing since February; then two in
    // New York, callable, owing since March.
    let n = rentmsg::staff::call_list::MAX_DECISIONS as usize + 1;
    let mut tenants = String::from("tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n");
    let mut ledger = String::from("tenant_id,date,due_date,kind,amount,reference\n");
    for i in 0..n {
        tenants.push_str(&format!("W{i:04},P1,Early {i},{i},(888) 6{:02}-{:04},,,,,,,Pacific/Kiritimati,\n", i / 10_000 + 10, i % 10_000));
        ledger.push_str(&format!("W{i:04},2024-02-01,2024-02-01,charge,100.00,R-W{i}\n"));
    }
    for id in ["Y1", "Y2"] {
        tenants.push_str(&format!("{id},P1,Late {id},,(877) 555-01{},,,,,,,,\n", &id[1..].repeat(2)));
        ledger.push_str(&format!("{id},2024-03-01,2024-03-01,charge,100.00,R-{id}\n"));
    }
    env.import_ok("tenants", &tenants);
    env.import_ok("ledger", &ledger);
    let page = env.get_ok("/api/call-list?callable=true&limit=10");
    assert_eq!(page["items"], json!([]), "none of the first {} is callable", n - 1);
    assert_eq!(page["stopped_at_bound"], json!(true));
    assert_eq!(page["total"], json!(n + 2));
    let rest = env.get_ok(&format!("/api/call-list?callable=true&limit=10&after={}", page["next"].as_str().expect("a cursor to go on from")));
    assert_eq!(ids(&rest), ["Y1", "Y2"]);
    assert_eq!(rest["stopped_at_bound"], json!(false));
    assert!(rest["next"].is_null());
    // The start page does not pass a bound off as a count.
    let today = env.get_ok("/api/today?zone=America/New_York");
    let fig = today["figures"].as_array().unwrap().iter().find(|f| f["key"] == "callable_now").unwrap();
    assert_eq!((fig["count"].clone(), fig["at_least"].clone()), (json!(0), json!(true)), "{fig}");
}
