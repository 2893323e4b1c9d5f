-- The demo shop database the `shop-analyst` agent reads (examples/demo/shop.db is built from this file:
-- sqlite3 examples/demo/shop.db < examples/demo/shop.sql).
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
                     placed_on TEXT NOT NULL, total_usd REAL NOT NULL, status TEXT NOT NULL);
INSERT INTO customers VALUES (1, 'Ann Lee', 'Lyon'), (2, 'Bob Stone', 'Leeds'), (3, 'Cy Park', 'Austin'),
                             (4, 'Dee Ruiz', 'Madrid');
INSERT INTO orders VALUES
  (1, 1, '2026-11-02', 42.50, 'delivered'), (2, 1, '2026-11-20', 18.00, 'shipped'),
  (3, 2, '2026-11-05', 120.00, 'delivered'), (4, 3, '2026-11-28', 7.25, 'processing'),
  (5, 4, '2026-12-01', 64.90, 'shipped'), (6, 2, '2026-12-02', 15.40, 'processing');
-- A table the agent may not read (not in the tool's allow-list).
CREATE TABLE staff_salaries (name TEXT, salary_usd REAL);
INSERT INTO staff_salaries VALUES ('Eve', 91000);
