set terminal svg size 720,440 dynamic font 'sans,12'
set output '/work/main/reports/tk-vs-n.svg'
cd '/work/main/reports/raw/plot'
set grid
set key outside right top
set logscale xy
set xlabel 'n (nodes)'
set ylabel 'T_k (µs, CPU)'
set title 'T_k at one BP against n'
plot 'tk_join.dat' u 1:2 w lp t 'join T_k', 'tk_join.dat' u 1:3 w l dt 2 t 'join lower bound', 'tk_leave.dat' u 1:2 w lp t 'leave T_k', 'tk_leave.dat' u 1:3 w l dt 2 t 'leave lower bound'
