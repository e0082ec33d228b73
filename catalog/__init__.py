"""The catalog: what the clouds offer and where (regions with coordinates, specs with prices,
images), the RTTs between regions, where each came from (drivers, Libcloud's price data,
benchmarks), its store tables, and the pure ranking that recommends specs from it."""
