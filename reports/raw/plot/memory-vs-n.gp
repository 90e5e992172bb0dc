set terminal svg size 720,440 dynamic font 'sans,12'
set output '/work/main/reports/memory-vs-n.svg'
cd '/work/main/reports/raw/plot'
set grid
set key outside right top
set logscale x
set xlabel 'n (nodes)'
set ylabel 'bytes per node'
set title 'BP memory per node'
plot 'mem.dat' u 1:2 w lp t 'key manager', 'mem.dat' u 1:3 w lp t 'registry', 'mem.dat' u 1:4 w lp t 'total', 256 w l dt 2 t 'target 256 B'
