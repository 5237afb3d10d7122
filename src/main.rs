fn main() {
    println!("mtpull: work in progress");
}
