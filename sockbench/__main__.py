from sockbench.console import main

main()
