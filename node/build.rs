//! The binary embeds `web/dist` (rust-embed): rebuild it whenever the web app is rebuilt, so it
//! always carries the app it was built next to. Before the first `npm run build` there is no
//! `dist` yet: watch `web/` itself, whose listing changes when `dist` appears.

fn main() {
    let dist = std::path::Path::new("../web/dist");
    if dist.is_dir() {
        println!("cargo:rerun-if-changed=../web/dist");
    } else {
        println!("cargo:rerun-if-changed=../web");
    }
}
