from sockbench.cli import main

main()
